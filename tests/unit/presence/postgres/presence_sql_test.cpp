// The PostgreSQL presence store's statement texts: batch array literals, schema quoting, and
// the schema placed in every statement (no server needed).
#include "presence/postgres/presence_sql.hpp"

#include "routing/postgres/identifier.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::presence::postgres {
namespace {

using routing::postgres::quote_identifier;

TEST(PresenceSql, HexArraysCarryAnyBytesQuotedAndEmptyOnes) {
    const std::string odd("\"\\,{}\0\xff", 7);
    EXPECT_EQ(hex_array({"hi", "", odd}), R"({"6869","","225c2c7b7d00ff"})");
    EXPECT_EQ(hex_array({}), "{}");
}

TEST(PresenceSql, NumberArrays) {
    EXPECT_EQ(number_array({1, -2, 1'700'000'000'000}), "{1,-2,1700000000000}");
    EXPECT_EQ(number_array({}), "{}");
}

TEST(PresenceSql, QuotesTheSchemaEverywhere) {
    EXPECT_EQ(quote_identifier(R"(a"b)"), R"("a""b")");
    const presence_sql sql(R"(my"schema)");
    const std::string_view quoted = R"("my""schema")";
    for (const auto* text :
         {&sql.heartbeat, &sql.reap, &sql.add, &sql.remove, &sql.join, &sql.leave, &sql.users,
          &sql.user_connections, &sql.group_members, &sql.online, &sql.state_get, &sql.state_set,
          &sql.state_erase, &sql.state_insert_if_absent, &sql.state_replace_if,
          &sql.state_cleanup}) {
        EXPECT_NE(text->find(quoted), std::string::npos) << *text;
        EXPECT_EQ(text->find('@'), std::string::npos) << *text;
    }
    // The lock first (instances starting together), then the schema.
    ASSERT_GE(sql.setup.size(), 2U);
    EXPECT_NE(sql.setup[0].find("pg_advisory_xact_lock"), std::string::npos);
    EXPECT_EQ(sql.setup[1], R"(CREATE SCHEMA IF NOT EXISTS "my""schema")");
    for (const auto& text : sql.setup) {
        EXPECT_EQ(text.find('@'), std::string::npos) << text;
    }
}

}  // namespace
}  // namespace switchboard::presence::postgres
