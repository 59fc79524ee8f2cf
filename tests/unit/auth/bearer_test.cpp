#include "auth/bearer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace switchboard::auth {
namespace {

namespace bhttp = boost::beast::http;

const std::string secret = "0123456789abcdef0123456789abcdef";

http::request make_request(std::string target, std::string authorization = {}) {
    http::request req{bhttp::verb::get, target, 11};
    if (!authorization.empty()) {
        req.set(bhttp::field::authorization, authorization);
    }
    return req;
}

std::string token_for(const std::string& user, const std::string& key = secret) {
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     3600;
    return issue_hs256({{"sub", user}, {"exp", exp}, {"role", "admin"}}, key);
}

http::authenticate_hook hook() {
    auth_options options;
    options.jwt_secret = secret;
    return make_jwt_authenticator(make_jwt_validator(options));
}

TEST(bearer_token, reads_the_header_case_insensitively_before_the_query) {
    EXPECT_EQ(bearer_token(make_request("/hub?access_token=q", "Bearer h")), "h");
    EXPECT_EQ(bearer_token(make_request("/hub", "bearer h")), "h");
    EXPECT_EQ(bearer_token(make_request("/hub?id=1&access_token=q")), "q");
    EXPECT_EQ(bearer_token(make_request("/hub?access_token=a%2Eb")), "a.b");
    EXPECT_EQ(bearer_token(make_request("/hub?access_token=q", "Basic abc")), "q");
    EXPECT_EQ(bearer_token(make_request("/hub?id=1")), std::nullopt);
}

TEST(jwt_authenticator, a_valid_token_gives_its_user_and_roles) {
    const auto who = hook()(make_request("/hub?user=mallory&access_token=" + token_for("alice")));
    ASSERT_TRUE(who) << who.error_message();
    EXPECT_EQ(who->user_id, "alice");
    EXPECT_TRUE(who->in_role("admin"));
    EXPECT_FALSE(who->in_role("owner"));
}

TEST(jwt_authenticator, every_claim_and_the_expiry_reach_the_identity) {
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     600;
    const auto token = issue_hs256(
        {{"sub", "alice"}, {"exp", exp}, {"scope", {"chat.read", "chat.write"}}, {"tier", 2}},
        secret);
    const auto who = hook()(make_request("/hub", "Bearer " + token));
    ASSERT_TRUE(who) << who.error_message();
    EXPECT_EQ(who->claim_values("scope"),
              (std::vector<std::string_view>{"chat.read", "chat.write"}));
    EXPECT_EQ(who->claim_values("tier"), std::vector<std::string_view>{"2"});
    EXPECT_EQ(who->claim_values("sub"), std::vector<std::string_view>{"alice"});
    ASSERT_TRUE(who->expires);
    EXPECT_EQ(
        std::chrono::duration_cast<std::chrono::seconds>(who->expires->time_since_epoch()).count(),
        exp);
}

TEST(jwt_authenticator, refuses_missing_and_foreign_tokens) {
    const auto check = hook();
    EXPECT_FALSE(check(make_request("/hub?user=alice")));
    EXPECT_FALSE(
        check(make_request("/hub", "Bearer " + token_for("alice", secret + "-other-key"))));
    EXPECT_FALSE(check(make_request("/hub", "Bearer ")));
}

TEST(make_jwt_validator, no_key_means_no_authentication) {
    EXPECT_EQ(make_jwt_validator(auth_options{}), nullptr);
}

TEST(make_jwt_validator, bad_keys_fail_with_the_flag_named) {
    auth_options short_secret;
    short_secret.jwt_secret = "short";
    EXPECT_THROW(make_jwt_validator(short_secret), std::runtime_error);
    auth_options missing_file;
    missing_file.jwt_public_key_file = "/nonexistent/key.pem";
    try {
        make_jwt_validator(missing_file);
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("--jwt-public-key"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace switchboard::auth
