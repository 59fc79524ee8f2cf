// Connection strings in both accepted forms, and the messages for malformed ones.
#include "routing/redis/connection_string.hpp"

#include <gtest/gtest.h>

namespace switchboard::routing::redis {
namespace {

connection_options parse_ok(std::string_view text) {
    auto parsed = parse_connection_string(text);
    EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error_message());
    return parsed ? *parsed : connection_options{};
}

std::string parse_error(std::string_view text) {
    auto parsed = parse_connection_string(text);
    EXPECT_FALSE(parsed.has_value()) << text;
    return parsed ? std::string{} : parsed.error_message();
}

TEST(ConnectionString, HostOnlyUsesDefaults) {
    auto options = parse_ok("localhost");
    EXPECT_EQ(options.host, "localhost");
    EXPECT_EQ(options.port, 6379);
    EXPECT_EQ(options.database, 0);
    EXPECT_FALSE(options.tls);
    EXPECT_TRUE(options.user.empty());
    EXPECT_TRUE(options.password.empty());
    EXPECT_TRUE(options.notes.empty());
}

TEST(ConnectionString, StackExchangeFormWithEveryKnownOption) {
    auto options = parse_ok(
        "redis.example.com:6380,password=s3cr=t,user=app,ssl=True,abortConnect=False,"
        "channelPrefix=chat,defaultDatabase=3");
    EXPECT_EQ(options.host, "redis.example.com");
    EXPECT_EQ(options.port, 6380);
    EXPECT_EQ(options.password, "s3cr=t");
    EXPECT_EQ(options.user, "app");
    EXPECT_TRUE(options.tls);
    EXPECT_EQ(options.channel_prefix, "chat");
    EXPECT_EQ(options.database, 3);
    EXPECT_TRUE(options.notes.empty());
}

TEST(ConnectionString, KeysAreCaseInsensitiveAndSpacesAroundTokensIgnored) {
    auto options = parse_ok(" host:1 , PASSWORD=pw , SSL=false, ChannelPrefix=p ,");
    EXPECT_EQ(options.host, "host");
    EXPECT_EQ(options.port, 1);
    EXPECT_EQ(options.password, "pw");
    EXPECT_FALSE(options.tls);
    EXPECT_EQ(options.channel_prefix, "p");
}

TEST(ConnectionString, UnknownKeysAndExtraEndpointsAreNoted) {
    auto options = parse_ok("a:1,b:2,connectTimeout=5000");
    EXPECT_EQ(options.host, "a");
    EXPECT_EQ(options.port, 1);
    ASSERT_EQ(options.notes.size(), 2u);
    // Key notes while parsing, endpoint notes at the end (shardedPubSub may come later).
    EXPECT_NE(options.notes[0].find("connectTimeout"), std::string::npos);
    EXPECT_NE(options.notes[1].find("'b:2'"), std::string::npos);
}

TEST(ConnectionString, OptionsBeforeTheEndpoint) {
    auto options = parse_ok("password=x,127.0.0.1:7000");
    EXPECT_EQ(options.host, "127.0.0.1");
    EXPECT_EQ(options.port, 7000);
    EXPECT_EQ(options.password, "x");
}

TEST(ConnectionString, BracketedIpv6) {
    auto options = parse_ok("[::1]:7001");
    EXPECT_EQ(options.host, "::1");
    EXPECT_EQ(options.port, 7001);
    EXPECT_EQ(parse_ok("[::1]").port, 6379);
}

TEST(ConnectionString, MalformedStackExchangeForms) {
    EXPECT_NE(parse_error("").find("empty"), std::string::npos);
    EXPECT_NE(parse_error("password=x").find("no endpoint"), std::string::npos);
    EXPECT_NE(parse_error("host:").find("empty port"), std::string::npos);
    EXPECT_NE(parse_error("host:abc").find("invalid Redis port 'abc'"), std::string::npos);
    EXPECT_NE(parse_error("host:70000").find("1-65535"), std::string::npos);
    EXPECT_NE(parse_error("host:0").find("1-65535"), std::string::npos);
    EXPECT_NE(parse_error(":6379").find("empty host"), std::string::npos);
    EXPECT_NE(parse_error("::1:6379").find("brackets"), std::string::npos);
    EXPECT_NE(parse_error("[::1").find("']'"), std::string::npos);
    EXPECT_NE(parse_error("h,ssl=yes").find("true or false"), std::string::npos);
    EXPECT_NE(parse_error("h,abortConnect=maybe").find("true or false"), std::string::npos);
    EXPECT_NE(parse_error("h,defaultDatabase=-1").find(">= 0"), std::string::npos);
    EXPECT_NE(parse_error("h,=x").find("empty key"), std::string::npos);
}

TEST(ConnectionString, UrlWithEverything) {
    auto options = parse_ok("redis://app:p%40ss@cache.local:6390/2");
    EXPECT_EQ(options.host, "cache.local");
    EXPECT_EQ(options.port, 6390);
    EXPECT_EQ(options.user, "app");
    EXPECT_EQ(options.password, "p@ss");
    EXPECT_EQ(options.database, 2);
    EXPECT_FALSE(options.tls);
}

TEST(ConnectionString, UrlDefaultsAndPasswordOnlyForms) {
    auto plain = parse_ok("redis://localhost");
    EXPECT_EQ(plain.port, 6379);
    EXPECT_EQ(plain.database, 0);

    auto empty_user = parse_ok("redis://:pw@h/");
    EXPECT_TRUE(empty_user.user.empty());
    EXPECT_EQ(empty_user.password, "pw");

    auto lone = parse_ok("redis://pw@h");
    EXPECT_TRUE(lone.user.empty());
    EXPECT_EQ(lone.password, "pw");
}

TEST(ConnectionString, TlsSchemeAndIpv6Url) {
    auto options = parse_ok("REDISS://[::1]:6400");
    EXPECT_TRUE(options.tls);
    EXPECT_EQ(options.host, "::1");
    EXPECT_EQ(options.port, 6400);
}

TEST(ConnectionString, MalformedUrls) {
    EXPECT_NE(parse_error("redis://").find("missing host"), std::string::npos);
    EXPECT_NE(parse_error("redis://h:99999").find("1-65535"), std::string::npos);
    EXPECT_NE(parse_error("redis://h/x").find("invalid Redis database 'x'"), std::string::npos);
    EXPECT_NE(parse_error("redis://h/1/2").find("database"), std::string::npos);
    EXPECT_NE(parse_error("http://h").find("redis:// or rediss://"), std::string::npos);
    EXPECT_NE(parse_error("redis://h h").find("invalid Redis URL"), std::string::npos);
}

TEST(ConnectionString, UnknownUrlParametersAreNoted) {
    auto options = parse_ok("redis://h?timeout=1");
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("timeout"), std::string::npos);
}

TEST(ConnectionString, TlsKeysInTheStackExchangeForm) {
    auto options = parse_ok(
        "h:6380,ssl=true,sslCaFile=/etc/ca.pem,sslHost=redis.internal,SSLCERTFILE=/c.pem,"
        "sslKeyFile=/k.pem");
    EXPECT_TRUE(options.tls);
    EXPECT_EQ(options.tls_ca_file, "/etc/ca.pem");
    EXPECT_EQ(options.tls_host, "redis.internal");
    EXPECT_EQ(options.tls_cert_file, "/c.pem");
    EXPECT_EQ(options.tls_key_file, "/k.pem");
    EXPECT_FALSE(options.tls_insecure_skip_verify);
    EXPECT_TRUE(options.notes.empty());
    EXPECT_TRUE(parse_ok("h,ssl=true,sslInsecureSkipVerify=true").tls_insecure_skip_verify);
}

TEST(ConnectionString, TlsKeysInUrlQueries) {
    auto options = parse_ok(
        "rediss://h:6380/1?sslCaFile=%2Fetc%2Fca.pem&sslHost=r.internal&channelPrefix=app");
    EXPECT_TRUE(options.tls);
    EXPECT_EQ(options.tls_ca_file, "/etc/ca.pem");
    EXPECT_EQ(options.tls_host, "r.internal");
    EXPECT_EQ(options.channel_prefix, "app");
    EXPECT_EQ(options.database, 1);
    EXPECT_TRUE(options.notes.empty());
    EXPECT_TRUE(parse_ok("rediss://h?sslInsecureSkipVerify=True").tls_insecure_skip_verify);
}

TEST(ConnectionString, TlsKeysWithoutTlsAreNoted) {
    auto options = parse_ok("h,sslCaFile=/ca.pem");
    EXPECT_FALSE(options.tls);
    ASSERT_EQ(options.notes.size(), 1u);
    EXPECT_NE(options.notes[0].find("TLS is off"), std::string::npos);
    EXPECT_EQ(parse_ok("redis://h?sslCaFile=/ca.pem").notes.size(), 1u);
}

TEST(ConnectionString, MalformedTlsAndShardedKeys) {
    EXPECT_NE(parse_error("h,ssl=true,sslCertFile=/c.pem").find("go together"), std::string::npos);
    EXPECT_NE(parse_error("h,sslInsecureSkipVerify=yes").find("true or false"), std::string::npos);
    EXPECT_NE(parse_error("redis://h?shardedPubSub=1").find("true or false"), std::string::npos);
}

TEST(ConnectionString, ShardedModeUsesTheOtherEndpointsAsSeeds) {
    auto options = parse_ok("a:7000,b:7001,[::1]:7002,shardedPubSub=true");
    EXPECT_TRUE(options.sharded);
    EXPECT_EQ(options.host, "a");
    ASSERT_EQ(options.more_endpoints.size(), 2u);
    EXPECT_EQ(options.more_endpoints[0].host, "b");
    EXPECT_EQ(options.more_endpoints[0].port, 7001);
    EXPECT_EQ(options.more_endpoints[1].host, "::1");
    EXPECT_TRUE(options.notes.empty());
    EXPECT_TRUE(parse_ok("rediss://h:7000?shardedPubSub=true").sharded);
    EXPECT_FALSE(parse_ok("h").sharded);
}

TEST(ConnectionString, RedactionHidesPasswordsInBothForms) {
    EXPECT_EQ(redact_connection_string("redis://app:s3cr:et@cache:6380/2"),
              "redis://app:***@cache:6380/2");
    EXPECT_EQ(redact_connection_string("rediss://:pw@cache?sslCaFile=/a@b"),
              "rediss://:***@cache?sslCaFile=/a@b");
    EXPECT_EQ(redact_connection_string("redis://cache:6379"), "redis://cache:6379");
    EXPECT_EQ(redact_connection_string("cache:6379,Password=pw,ssl=True"),
              "cache:6379,Password=***,ssl=True");
    EXPECT_EQ(redact_connection_string("memory"), "memory");
}

}  // namespace
}  // namespace switchboard::routing::redis
