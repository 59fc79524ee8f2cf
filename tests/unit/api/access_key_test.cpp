#include "api/access_key.hpp"

#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::api {
namespace {

const std::string key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH";
const auto now = std::chrono::system_clock::now();

std::int64_t seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A token as the .NET Management SDK mints it (specs §2).
std::string sdk_token(const std::string& aud, std::string_view secret = key,
                      std::chrono::seconds lifetime = std::chrono::hours(1)) {
    boost::json::object claims{{"nameid", "host_0123"},
                               {"nbf", seconds(now)},
                               {"exp", seconds(now + lifetime)},
                               {"iat", seconds(now)},
                               {"aud", aud}};
    return "Bearer " + auth::issue_hs256(claims, secret);
}

access_key_auth make(std::string host = "localhost") {
    auto made = access_key_auth::make({key}, std::move(host));
    EXPECT_TRUE(made) << made.error_message();
    return std::move(*made);
}

TEST(rest_auth, sdk_audience_with_query_and_without_port_is_accepted) {
    const auto auth = make();
    const auto path = "/api/hubs/chat/groups/g%201/:send";
    EXPECT_FALSE(auth.check(sdk_token("http://localhost/api/hubs/chat/groups/g%201/:send?"
                                      "api-version=2022-06-01"),
                            path, "localhost:8888", now));
    // Older SDKs (v1): no query; a trailing slash and another scheme change nothing.
    EXPECT_FALSE(auth.check(sdk_token("https://LOCALHOST:443/api/hubs/chat/groups/g%201/:send/"),
                            path, "whatever", now));
}

TEST(rest_auth, a_token_with_only_aud_and_exp_is_enough) {
    const auto auth = make();
    boost::json::object claims{{"exp", seconds(now) + 60}, {"aud", "http://localhost/api/health"}};
    EXPECT_FALSE(
        auth.check("Bearer " + auth::issue_hs256(claims, key), "/api/health", "localhost", now));
    claims.erase("exp");
    EXPECT_TRUE(
        auth.check("Bearer " + auth::issue_hs256(claims, key), "/api/health", "localhost", now));
}

TEST(rest_auth, refusals) {
    const auto auth = make();
    const auto path = "/api/hubs/chat/:send";
    const auto aud = "http://localhost/api/hubs/chat/:send";
    EXPECT_TRUE(auth.check("", path, "localhost", now));
    EXPECT_TRUE(auth.check("Basic abc", path, "localhost", now));
    EXPECT_TRUE(auth.check("Bearer not.a.jwt", path, "localhost", now));
    // Wrong audience: another path, another host.
    EXPECT_TRUE(auth.check(sdk_token("http://localhost/api/hubs/chat/users/u/:send"), path,
                           "localhost", now));
    EXPECT_TRUE(
        auth.check(sdk_token("http://evil.example/api/hubs/chat/:send"), path, "localhost", now));
    // Expired beyond the five minutes of skew.
    EXPECT_TRUE(auth.check(sdk_token(aud, key, -std::chrono::minutes(10)), path, "localhost", now));
    // Signed with another key.
    EXPECT_TRUE(auth.check(sdk_token(aud, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"), path,
                           "localhost", now));
    const auto refused = auth.check(sdk_token("http://localhost/other"), path, "localhost", now);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->description, "The audience is invalid");
}

TEST(rest_auth, without_endpoint_the_host_header_names_the_audience_host) {
    const auto auth = make("");
    const auto path = "/api/hubs/chat/:send";
    EXPECT_FALSE(
        auth.check(sdk_token("http://10.0.0.5/api/hubs/chat/:send"), path, "10.0.0.5:5000", now));
    EXPECT_TRUE(
        auth.check(sdk_token("http://10.0.0.6/api/hubs/chat/:send"), path, "10.0.0.5:5000", now));
}

TEST(rest_auth, secondary_keys_and_short_keys) {
    const std::string second = "secondary-key-secondary-key-0123456789";
    auto made = access_key_auth::make({key, second}, "localhost");
    ASSERT_TRUE(made);
    EXPECT_FALSE(made->check(sdk_token("http://localhost/api/health", second), "/api/health",
                             "localhost", now));
    EXPECT_FALSE(access_key_auth::make({"short"}, "localhost"));
    EXPECT_FALSE(access_key_auth::make({}, "localhost"));
}

TEST(rest_connection_string, sdk_rules) {
    auto parsed = parse_connection_string("Endpoint=http://localhost/;Port=8888;AccessKey=" + key +
                                          ";Version=1.0;");
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(parsed->endpoint, "http://localhost");
    EXPECT_EQ(parsed->access_key, key);
    EXPECT_EQ(parsed->port, 8888);
    parsed = parse_connection_string(" endpoint = https://x.service.signalr.net ; accesskey = k ");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->access_key, "k");
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a;AccessKey=k;Version=2.0"));
    EXPECT_FALSE(parse_connection_string("Endpoint=ftp://a;AccessKey=k"));
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a;AccessKey=k;accesskey=j"));
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a;Version=1.0"));
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a"));
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a;AccessKey=k;Port=0"));
    EXPECT_FALSE(parse_connection_string("Endpoint=http://a;AuthType=aad;ClientId=x"));
}

TEST(rest_connection_string, audience_of_url) {
    const auto a = audience_of_url("HTTP://Host.Example:8080/api/hubs/chat/?api-version=1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "host.example");
    EXPECT_EQ(a->path, "/api/hubs/chat");
    EXPECT_FALSE(audience_of_url("/relative/path"));
}

}  // namespace
}  // namespace switchboard::api
