#include "routing/postgres/payload_table.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing::postgres {
namespace {

TEST(postgres_payload_table, one_table_per_hub_named_as_the_aspnet_slug) {
    EXPECT_EQ(hub_of("chat:all"), "chat");
    EXPECT_EQ(hub_of("MyApp.Hubs.ChatHub:group:a:b"), "MyApp.Hubs.ChatHub");
    EXPECT_EQ(hub_of("no colon"), "no colon");
    // ToLowerInvariant of the hub's name, as TableSlugGenerator in the system this replaces.
    EXPECT_EQ(payload_table_name("ChatHub"), "chathub_payloads");
    EXPECT_EQ(payload_table_name("chat"), "chat_payloads");
    EXPECT_EQ(payload_table_name("MyApp.Hubs.ChatHub"), "myapp.hubs.chathub_payloads");
    EXPECT_EQ(payload_index_name("chat_payloads"), "chat_payloads_created_at");
}

TEST(postgres_payload_table, long_hub_names_stay_within_an_identifier_and_apart) {
    const std::string a(100, 'a');
    const std::string b = std::string(99, 'a') + "b";
    const auto ta = payload_table_name(a);
    const auto tb = payload_table_name(b);
    EXPECT_LE(ta.size(), 63U);
    EXPECT_LE(tb.size(), 63U);
    EXPECT_NE(ta, tb);
    EXPECT_EQ(ta, payload_table_name(a));  // the same on every instance
    EXPECT_LE(payload_index_name(ta).size(), 63U);
    EXPECT_NE(payload_index_name(ta), ta);
}

}  // namespace
}  // namespace switchboard::routing::postgres
