#include "routing/postgres/connection_string.hpp"

#include "routing/backplane_factory.hpp"
#include "routing/postgres/postgres_registration.hpp"
#include "server/backends.hpp"

#include <gtest/gtest.h>
#include <postgresql/libpq-fe.h>

#include <map>
#include <string>

namespace switchboard::routing::postgres {
namespace {

// The conninfo read back by libpq itself: what it will connect with.
std::map<std::string, std::string> read_back(const std::string& conninfo) {
    std::map<std::string, std::string> out;
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    EXPECT_NE(options, nullptr) << (error != nullptr ? error : "") << " in " << conninfo;
    PQfreemem(error);
    if (options == nullptr) {
        return out;
    }
    for (auto* o = options; o->keyword != nullptr; ++o) {
        if (o->val != nullptr) {
            out[o->keyword] = o->val;
        }
    }
    PQconninfoFree(options);
    return out;
}

std::map<std::string, std::string> parse_ok(std::string_view text) {
    auto parsed = parse_connection_string(text);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error_message());
    return parsed ? read_back(parsed->conninfo) : std::map<std::string, std::string>{};
}

std::string parse_error(std::string_view text) {
    auto parsed = parse_connection_string(text);
    EXPECT_FALSE(parsed) << text;
    return parsed ? std::string() : parsed.error_message();
}

TEST(postgres_connection_string, the_replaced_systems_npgsql_string) {
    auto o = parse_ok("Host=localhost;Database=signalr_demo;Username=postgres;Password=postgres");
    EXPECT_EQ(o["host"], "localhost");
    EXPECT_EQ(o["dbname"], "signalr_demo");
    EXPECT_EQ(o["user"], "postgres");
    EXPECT_EQ(o["password"], "postgres");
    EXPECT_EQ(o.count("port"), 0u);  // libpq's default, 5432, as Npgsql's
    EXPECT_EQ(o["fallback_application_name"], "switchboard");
}

TEST(postgres_connection_string, npgsql_synonyms_and_case) {
    auto o = parse_ok(
        "server=db.example;PORT=5433;DB=app;User ID=me;PWD=p;SSL Mode=VerifyFull;Timeout=7;"
        "Application Name=chat;Keepalive=30");
    EXPECT_EQ(o["host"], "db.example");
    EXPECT_EQ(o["port"], "5433");
    EXPECT_EQ(o["dbname"], "app");
    EXPECT_EQ(o["user"], "me");
    EXPECT_EQ(o["password"], "p");
    EXPECT_EQ(o["sslmode"], "verify-full");
    EXPECT_EQ(o["connect_timeout"], "7");
    EXPECT_EQ(o["application_name"], "chat");
    EXPECT_EQ(o["keepalives"], "1");
    EXPECT_EQ(o["keepalives_idle"], "30");
    EXPECT_EQ(o.count("fallback_application_name"), 0u);
    EXPECT_EQ(parse_connection_string("Host=h;Timeout=7")->connect_timeout,
              std::chrono::seconds(7));

    for (const auto* user : {"Username=u", "User Name=u", "UserId=u", "User Id=u", "UID=u"}) {
        EXPECT_EQ(parse_ok(std::string("Host=h;") + user)["user"], "u") << user;
    }
    EXPECT_EQ(parse_ok("Host=h;Psw=x")["password"], "x");
    const std::map<std::string, std::string> modes{
        {"Disable", "disable"}, {"Allow", "allow"},        {"Prefer", "prefer"},
        {"Require", "require"}, {"VerifyCA", "verify-ca"}, {"verify-full", "verify-full"}};
    for (const auto& [npgsql, libpq] : modes) {
        EXPECT_EQ(parse_ok("Host=h;SSL Mode=" + npgsql)["sslmode"], libpq) << npgsql;
    }
    EXPECT_EQ(parse_ok("Host=h;SslMode=Require")["sslmode"], "require");
    EXPECT_EQ(parse_ok("Host=h;Target Session Attributes=PreferStandby")["target_session_attrs"],
              "prefer-standby");
    EXPECT_EQ(
        parse_ok(
            "Host=h;Root Certificate=/ca.pem;SSL Certificate=/c.pem;SSL Key=/k.pem")["sslrootcert"],
        "/ca.pem");
}

TEST(postgres_connection_string, npgsql_quoting_whitespace_and_host_lists) {
    auto o =
        parse_ok(" Host = a:5433,[::1],b ; Port=6000 ;Password='it''s;here' ;Database=\"x y\";");
    EXPECT_EQ(o["host"], "a,::1,b");
    EXPECT_EQ(o["port"], "5433,6000,6000");
    EXPECT_EQ(o["password"], "it's;here");
    EXPECT_EQ(o["dbname"], "x y");
    EXPECT_EQ(parse_ok("Host=h;Password=a\\b'c")["password"], "a\\b'c");
}

TEST(postgres_connection_string, harmless_npgsql_keys_are_noted) {
    auto parsed = parse_connection_string(
        "Host=h;Pooling=true;Maximum Pool Size=50;Command Timeout=30;Trust Server "
        "Certificate=true");
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->notes.size(), 4u);
    EXPECT_NE(parsed->notes[0].find("'Pooling'"), std::string::npos);
    EXPECT_NE(parsed->notes[1].find("'Maximum Pool Size'"), std::string::npos);
}

TEST(postgres_connection_string, urls) {
    auto o =
        parse_ok("postgres://user:secret@db.example:5433/app?sslmode=require&connect_timeout=3");
    EXPECT_EQ(o["host"], "db.example");
    EXPECT_EQ(o["port"], "5433");
    EXPECT_EQ(o["user"], "user");
    EXPECT_EQ(o["password"], "secret");
    EXPECT_EQ(o["dbname"], "app");
    EXPECT_EQ(o["sslmode"], "require");
    EXPECT_EQ(parse_ok("PostgreSQL://h/d")["dbname"], "d");
    EXPECT_EQ(parse_ok("postgresql://[::1]:6000/d")["host"], "::1");
    EXPECT_EQ(parse_ok("postgresql://u:p%40ss@h/d")["password"], "p@ss");
}

TEST(postgres_connection_string, conninfo) {
    auto o = parse_ok(
        "host=127.0.0.1 port=5432 dbname=postgres user=postgres password='a b' sslmode=disable");
    EXPECT_EQ(o["host"], "127.0.0.1");
    EXPECT_EQ(o["password"], "a b");
    EXPECT_EQ(o["sslmode"], "disable");
}

TEST(postgres_connection_string, errors_name_the_key) {
    EXPECT_NE(parse_error("Host=h;Port=abc").find("'Port'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;Port=70000").find("'Port'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;SSL Mode=Sometimes").find("'SSL Mode'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;Timeout=-1").find("'Timeout'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;Frobnicate=1").find("'Frobnicate'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;Keepalive=often").find("'Keepalive'"), std::string::npos);
    EXPECT_NE(parse_error("Database=d;Username=u").find("'Host'"), std::string::npos);
    EXPECT_NE(parse_error("Host=h;Password='unterminated").find("'Password'"), std::string::npos);
    EXPECT_NE(parse_error("host=h sslmode=sometimes").find("'sslmode'"), std::string::npos);
    EXPECT_NE(parse_error("host=h port=x").find("'port'"), std::string::npos);
    EXPECT_NE(parse_error("host=h frobnicate=1").find("frobnicate"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h/d?frobnicate=1").find("frobnicate"), std::string::npos);
    // An item without '=' is not echoed: it may be a misplaced password.
    const auto error = parse_error("Host=h;hunter2");
    EXPECT_EQ(error.find("hunter2"), std::string::npos);
    EXPECT_NE(error.find("item 2"), std::string::npos);
}

TEST(postgres_connection_string, redaction_in_every_form) {
    EXPECT_EQ(redact_connection_string(
                  "Host=localhost;Database=signalr_demo;Username=postgres;Password=postgres"),
              "Host=localhost;Database=signalr_demo;Username=postgres;Password=***");
    EXPECT_EQ(redact_connection_string("Host=h;PWD='a;b''c';SSL Password=k"),
              "Host=h;PWD=***;SSL Password=***");
    EXPECT_EQ(redact_connection_string("postgres://u:secret@h:5432/d?sslmode=require"),
              "postgres://u:***@h:5432/d?sslmode=require");
    EXPECT_EQ(redact_connection_string("postgresql://u@h/d?password=secret&sslmode=require"),
              "postgresql://u@h/d?password=***&sslmode=require");
    EXPECT_EQ(redact_connection_string("host=h password='a \\' b' user=u"),
              "host=h password=*** user=u");
    EXPECT_EQ(redact_connection_string("host=h password=plain"), "host=h password=***");
    EXPECT_EQ(redact_connection_string("Host=h;Password='unterminated").find("unterminated"),
              std::string::npos);
}

TEST(postgres_connection_string, shapes_versus_redis_strings) {
    for (const auto* ours :
         {"postgres://h/d", "POSTGRESQL://h", "host=h", "dbname=d host=h", "Host=h;Database=d",
          "Server=h", "Host=localhost", "User ID=u;Host=h", "password=x host=h"}) {
        EXPECT_TRUE(accepts_spec(ours)) << ours;
    }
    for (const auto* redis :
         {"localhost:6379", "localhost:6379,password=x", "password=x,localhost:6379",
          "keepAlive=60,localhost:6379", "redis://h", "h:6379,ssl=True,abortConnect=False",
          "memory", "nats://h:4222", "", "Frobnicate=1;Host=h"}) {
        EXPECT_FALSE(accepts_spec(redis)) << redis;
    }
}

TEST(postgres_connection_string, the_factory_routes_each_form) {
    const auto& factory = backplanes();
    boost::asio::io_context control;
    backplane_settings settings;
    settings.control = &control;
    settings.max_buffered_bytes = 1024;
    auto made = factory.make("Host=127.0.0.1;Port=1;Database=d;Username=u;Password=p;Pooling=true",
                             settings);
    ASSERT_NE(made.bus, nullptr);
    EXPECT_EQ(made.notes.size(), 1u);
    EXPECT_EQ(made.bus->codec().to_bus(std::string(200, 'x')).size(), 33u);
    EXPECT_EQ(factory.redact("Host=h;Password=p"), "Host=h;Password=***");
    EXPECT_EQ(factory.redact("postgres://u:p@h/d"), "postgres://u:***@h/d");
    try {
        (void)factory.make("Host=h;Port=x", settings);
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("'Port'"), std::string::npos) << e.what();
    }
    settings.database_schema = std::string(64, 's');
    EXPECT_THROW((void)factory.make("Host=h", settings), std::runtime_error);
    EXPECT_NE(factory.describe().find("Host=...;Port=..."), std::string::npos);
}

}  // namespace
}  // namespace switchboard::routing::postgres
