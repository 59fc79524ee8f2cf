#include "transport/connection_manager.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>

namespace switchboard::transport {
namespace {

using namespace std::chrono_literals;
using status = connection_manager::claim_status;

bool is_url_safe_id(const std::string& s) {
    return s.size() == 22 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

TEST(connection_manager, issue_v1_gives_distinct_url_safe_id_and_token) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1);
    EXPECT_TRUE(is_url_safe_id(issued.connection_id)) << issued.connection_id;
    EXPECT_TRUE(is_url_safe_id(issued.token)) << issued.token;
    EXPECT_NE(issued.connection_id, issued.token);
}

TEST(connection_manager, another_user_cannot_claim_and_leaves_the_token_usable) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1, false, "alice");
    const std::string bob = "bob";
    EXPECT_EQ(manager.claim(issued.token, transport_kind::long_polling, &bob).status,
              status::forbidden);
    // The refused claim neither activated the token nor fixed its transport.
    const std::string alice = "alice";
    EXPECT_EQ(manager.claim(issued.token, transport_kind::websockets, &alice).status,
              status::claimed);
    EXPECT_EQ(manager.find(issued.token).owner, "alice");
}

TEST(connection_manager, claims_without_user_skip_the_owner_check) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1, false, "alice");
    EXPECT_EQ(manager.claim(issued.token, transport_kind::websockets).status, status::claimed);
}

TEST(connection_manager, issued_identifiers_never_repeat) {
    connection_manager manager(15s);
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto issued = manager.issue(1);
        EXPECT_TRUE(seen.insert(issued.connection_id).second);
        EXPECT_TRUE(seen.insert(issued.token).second);
    }
    EXPECT_EQ(manager.size(), 100u);
}

TEST(connection_manager, issue_v0_uses_the_id_as_token) {
    connection_manager manager(15s);
    const auto issued = manager.issue(0);
    EXPECT_TRUE(is_url_safe_id(issued.connection_id));
    EXPECT_EQ(issued.token, issued.connection_id);
}

TEST(connection_manager, first_claim_succeeds_and_a_second_finds_it_in_use) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1);
    const auto first = manager.claim(issued.token, transport_kind::websockets);
    EXPECT_EQ(first.status, status::claimed);
    EXPECT_EQ(first.connection_id, issued.connection_id);

    EXPECT_EQ(manager.claim(issued.token, transport_kind::websockets).status, status::in_use);
    EXPECT_EQ(manager.claim(issued.token, transport_kind::long_polling).status,
              status::wrong_transport);
}

TEST(connection_manager, connection_id_is_not_a_token) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1);
    EXPECT_EQ(manager.claim(issued.connection_id, transport_kind::websockets).status,
              status::unknown);
    EXPECT_EQ(manager.claim("no-such-token", transport_kind::websockets).status, status::unknown);
}

TEST(connection_manager, removed_token_no_longer_resolves) {
    connection_manager manager(15s);
    const auto issued = manager.issue(1);
    ASSERT_EQ(manager.claim(issued.token, transport_kind::websockets).status, status::claimed);
    manager.remove(issued.token);
    EXPECT_FALSE(manager.exists(issued.token, nullptr));
    EXPECT_EQ(manager.claim(issued.token, transport_kind::websockets).status, status::unknown);
    EXPECT_EQ(manager.size(), 0u);
}

TEST(connection_manager, sweep_forgets_only_unclaimed_tokens_past_the_timeout) {
    connection_manager manager(1s);
    const auto unclaimed = manager.issue(1);
    const auto claimed = manager.issue(1);
    ASSERT_EQ(manager.claim(claimed.token, transport_kind::websockets).status, status::claimed);

    manager.sweep(connection_manager::clock::now());
    EXPECT_TRUE(manager.exists(unclaimed.token, nullptr));

    manager.sweep(connection_manager::clock::now() + 2s);
    EXPECT_FALSE(manager.exists(unclaimed.token, nullptr));
    transport_kind transport = transport_kind::none;
    EXPECT_TRUE(manager.exists(claimed.token, &transport));
    EXPECT_EQ(transport, transport_kind::websockets);
}

TEST(connection_manager, issue_active_registers_a_connected_websocket) {
    connection_manager manager(15s);
    const auto issued = manager.issue_active(transport_kind::websockets);
    EXPECT_EQ(issued.token, issued.connection_id);
    EXPECT_EQ(manager.claim(issued.token, transport_kind::websockets).status, status::in_use);
}

}  // namespace
}  // namespace switchboard::transport
