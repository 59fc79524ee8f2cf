#include "auth/policy.hpp"

#include <gtest/gtest.h>

namespace switchboard::auth {
namespace {

switchboard::identity make_identity(std::vector<std::string> roles,
                                    std::vector<std::pair<std::string, std::string>> claims = {}) {
    return switchboard::identity{"alice", std::move(roles), std::move(claims), {}};
}

policy parsed(std::string_view text) {
    auto result = parse_policy(text);
    EXPECT_TRUE(result) << text << ": " << result.error_message();
    return result ? *result : policy{};
}

TEST(policy, empty_policy_lets_anyone_in) {
    const policy open;
    EXPECT_FALSE(open.restricts());
    EXPECT_TRUE(open.allows(nullptr));
}

TEST(policy, authenticated_needs_an_identity) {
    const auto p = parsed("authenticated");
    const auto alice = make_identity({});
    EXPECT_FALSE(p.allows(nullptr));
    EXPECT_TRUE(p.allows(&alice));
}

TEST(policy, any_listed_role_suffices) {
    const auto p = parsed("role:admin, role:moderator");
    const auto moderator = make_identity({"moderator"});
    const auto reader = make_identity({"reader"});
    EXPECT_TRUE(p.allows(&moderator));
    EXPECT_FALSE(p.allows(&reader));
    EXPECT_FALSE(p.allows(nullptr));
}

TEST(policy, every_claim_type_must_hold_with_one_of_its_values) {
    const auto p = parsed("claim:scope=chat.write,claim:scope=chat.admin,claim:tenant");
    const auto writer =
        make_identity({}, {{"scope", "chat.read"}, {"scope", "chat.write"}, {"tenant", "acme"}});
    const auto no_tenant = make_identity({}, {{"scope", "chat.write"}});
    const auto reader = make_identity({}, {{"scope", "chat.read"}, {"tenant", "acme"}});
    EXPECT_TRUE(p.allows(&writer));
    EXPECT_FALSE(p.allows(&no_tenant));
    EXPECT_FALSE(p.allows(&reader));
}

TEST(policy, roles_and_claims_combine) {
    const auto p = parsed("role:admin,claim:tenant=acme");
    const auto admin_acme = make_identity({"admin"}, {{"tenant", "acme"}});
    const auto admin_other = make_identity({"admin"}, {{"tenant", "other"}});
    EXPECT_TRUE(p.allows(&admin_acme));
    EXPECT_FALSE(p.allows(&admin_other));
}

TEST(policy, malformed_requirements_are_errors) {
    EXPECT_EQ(parse_policy("admin").error_message(),
              "unknown requirement 'admin' (expected authenticated, role:NAME, claim:TYPE or "
              "claim:TYPE=VALUE)");
    EXPECT_FALSE(parse_policy(""));
    EXPECT_FALSE(parse_policy(" , "));
    EXPECT_FALSE(parse_policy("role:"));
    EXPECT_FALSE(parse_policy("claim:=x"));
}

TEST(policy_rule, names_a_hub_or_a_method) {
    auto hub = parse_policy_rule("chat=authenticated");
    ASSERT_TRUE(hub) << hub.error_message();
    EXPECT_EQ(hub->hub, "chat");
    EXPECT_TRUE(hub->method.empty());
    EXPECT_TRUE(hub->requirements.authenticated);

    auto method = parse_policy_rule("chat.SendMessage=role:writer");
    ASSERT_TRUE(method) << method.error_message();
    EXPECT_EQ(method->hub, "chat");
    EXPECT_EQ(method->method, "SendMessage");
    EXPECT_EQ(method->requirements.roles, std::vector<std::string>{"writer"});

    EXPECT_FALSE(parse_policy_rule("chat"));
    EXPECT_FALSE(parse_policy_rule("=authenticated"));
    EXPECT_FALSE(parse_policy_rule("chat.=authenticated"));
    EXPECT_EQ(parse_policy_rule("chat=everyone").error_message(),
              "chat: unknown requirement 'everyone' (expected authenticated, role:NAME, "
              "claim:TYPE or claim:TYPE=VALUE)");
}

TEST(glob_match, matches_whole_names) {
    EXPECT_TRUE(glob_match("team-*", "team-red"));
    EXPECT_TRUE(glob_match("team-*", "team-"));
    EXPECT_FALSE(glob_match("team-*", "my-team-red"));
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_TRUE(glob_match("a?c", "abc"));
    EXPECT_FALSE(glob_match("a?c", "ac"));
    EXPECT_TRUE(glob_match("*-*-x", "a-b-c-x"));
    EXPECT_FALSE(glob_match("lobby", "lobby2"));
    EXPECT_TRUE(glob_match("", ""));
    EXPECT_FALSE(glob_match("", "a"));
}

TEST(glob_match, hostile_patterns_stay_linear) {
    // Exponential backtracking would take ages here; the single backtrack point does not.
    const std::string text(10'000, 'a');
    EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", text));
}

}  // namespace
}  // namespace switchboard::auth
