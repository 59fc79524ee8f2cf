#include "transport/admission.hpp"

#include "transport/connection_manager.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace switchboard::transport {
namespace {

using namespace std::chrono_literals;
using clock = admission_control::clock;

admission_options limits(std::size_t total, std::size_t per_ip, std::size_t per_user) {
    return {total, per_ip, per_user, rate_limit{}};
}

TEST(admission, per_ip_limit_refuses_the_next_and_admits_again_after_a_release) {
    metrics counters;
    admission_control admission(limits(0, 2, 0), &counters);
    auto first = admission.admit("10.0.0.1", "");
    auto second = admission.admit("10.0.0.1", "");
    ASSERT_EQ(first.refused, refusal::none);
    ASSERT_EQ(second.refused, refusal::none);
    const auto third = admission.admit("10.0.0.1", "");
    EXPECT_EQ(third.refused, refusal::connections_per_ip);
    EXPECT_FALSE(third.lease.held());
    // Another address is counted apart.
    EXPECT_EQ(admission.admit("10.0.0.2", "").refused, refusal::none);
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 2u);

    first.lease.release();
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 1u);
    EXPECT_EQ(admission.admit("10.0.0.1", "").refused, refusal::none);
    EXPECT_EQ(counters.rejections_of(metric_limit::connections_per_ip).value(), 1u);
}

TEST(admission, total_limit_counts_every_address_and_refusals_take_nothing) {
    admission_control admission(limits(2, 0, 0));
    auto a = admission.admit("10.0.0.1", "");
    auto b = admission.admit("10.0.0.2", "");
    EXPECT_EQ(admission.admit("10.0.0.3", "").refused, refusal::connections);
    EXPECT_EQ(admission.admit("10.0.0.3", "").refused, refusal::connections);
    EXPECT_EQ(admission.connections(), 2u);
    b.lease.release();
    EXPECT_EQ(admission.connections(), 1u);
    EXPECT_EQ(admission.admit("10.0.0.3", "").refused, refusal::none);
}

TEST(admission, per_user_limit_ignores_anonymous_connections) {
    admission_control admission(limits(0, 0, 1));
    auto alice = admission.admit("10.0.0.1", "alice");
    ASSERT_EQ(alice.refused, refusal::none);
    EXPECT_EQ(admission.admit("10.0.0.2", "alice").refused, refusal::connections_per_user);
    EXPECT_EQ(admission.admit("10.0.0.1", "bob").refused, refusal::none);
    EXPECT_EQ(admission.admit("10.0.0.1", "").refused, refusal::none);
    EXPECT_EQ(admission.admit("10.0.0.1", "").refused, refusal::none);
}

TEST(admission, a_refusal_by_a_later_limit_gives_back_the_earlier_places) {
    admission_control admission(limits(10, 10, 1));
    auto alice = admission.admit("10.0.0.1", "alice");
    ASSERT_EQ(alice.refused, refusal::none);
    ASSERT_EQ(admission.connections(), 1u);
    EXPECT_EQ(admission.admit("10.0.0.1", "alice").refused, refusal::connections_per_user);
    EXPECT_EQ(admission.connections(), 1u);
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 1u);
}

TEST(admission, leases_move_and_release_once) {
    admission_control admission(limits(0, 5, 5));
    {
        auto admitted = admission.admit("10.0.0.1", "alice");
        connection_lease moved = std::move(admitted.lease);
        EXPECT_TRUE(moved.held());
        EXPECT_FALSE(admitted.lease.held());
        connection_lease assigned;
        assigned = std::move(moved);
        EXPECT_EQ(admission.connections_from("10.0.0.1"), 1u);
        EXPECT_EQ(admission.connections_of("alice"), 1u);
    }
    EXPECT_EQ(admission.connections(), 0u);
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 0u);
    EXPECT_EQ(admission.connections_of("alice"), 0u);
}

TEST(admission, counts_stay_exact_under_concurrent_admits_and_releases) {
    admission_control admission(limits(0, 50, 0));
    std::vector<std::thread> threads;
    std::atomic<int> admitted{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2'000; ++i) {
                auto result = admission.admit("10.0.0.1", "");
                if (result.refused == refusal::none) {
                    ++admitted;
                    EXPECT_LE(admission.connections_from("10.0.0.1"), 50u);
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(admitted.load(), 8'000);  // each lease went back before the next admit
    EXPECT_EQ(admission.connections(), 0u);
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 0u);
}

TEST(admission, negotiate_rate_per_ip_refuses_past_the_burst_and_refills) {
    metrics counters;
    admission_control admission({0, 0, 0, rate_limit{2, 3}}, &counters);
    const auto start = clock::now();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(admission.admit("10.0.0.1", "", start).refused, refusal::none) << i;
    }
    EXPECT_EQ(admission.admit("10.0.0.1", "", start).refused, refusal::negotiate_rate_per_ip);
    EXPECT_EQ(admission.admit("10.0.0.2", "", start).refused, refusal::none);
    EXPECT_EQ(admission.admit("10.0.0.1", "", start + 500ms).refused, refusal::none);
    EXPECT_EQ(counters.rejections_of(metric_limit::negotiate_rate_per_ip).value(), 1u);
}

TEST(admission, a_rate_limited_request_takes_no_connection_place) {
    admission_control admission({0, 1, 0, rate_limit{1, 1}});
    const auto start = clock::now();
    auto first = admission.admit("10.0.0.1", "", start);
    ASSERT_EQ(first.refused, refusal::none);
    first.lease.release();
    EXPECT_EQ(admission.admit("10.0.0.1", "", start).refused, refusal::negotiate_rate_per_ip);
    EXPECT_EQ(admission.connections(), 0u);
}

TEST(admission, sweep_forgets_only_buckets_that_filled_up_again) {
    admission_control admission({0, 0, 0, rate_limit{1, 2}});
    const auto start = clock::now();
    (void)admission.admit("10.0.0.1", "", start);
    (void)admission.admit("10.0.0.2", "", start);
    (void)admission.admit("10.0.0.2", "", start);
    EXPECT_EQ(admission.rate_tracked_addresses(), 2u);
    admission.sweep(start + 1s);  // .1 is full again, .2 has one of two tokens
    EXPECT_EQ(admission.rate_tracked_addresses(), 1u);
    admission.sweep(start + 2s);
    EXPECT_EQ(admission.rate_tracked_addresses(), 0u);
}

TEST(admission, refusals_name_the_limit_with_429_or_503) {
    const admission_options options{10, 20, 30, rate_limit{5, 50}};
    EXPECT_EQ(refusal_status(refusal::connections), 503u);
    EXPECT_EQ(refusal_status(refusal::connections_per_ip), 429u);
    EXPECT_EQ(refusal_status(refusal::connections_per_user), 429u);
    EXPECT_EQ(refusal_status(refusal::negotiate_rate_per_ip), 429u);
    EXPECT_EQ(refusal_message(refusal::connections, options),
              "Connection limit reached: this server accepts at most 10 connections.");
    EXPECT_EQ(refusal_message(refusal::connections_per_ip, options),
              "Too many connections from this IP address: at most 20 per client address.");
    EXPECT_EQ(refusal_message(refusal::connections_per_user, options),
              "Too many connections for this user: at most 30 per user.");
    EXPECT_EQ(refusal_message(refusal::negotiate_rate_per_ip, options),
              "Negotiate rate limit exceeded: at most 5 requests per second per client address "
              "(burst 50).");
}

// The token table holds each lease: a token that expires unused, or a connection that ends,
// gives its place back.
TEST(admission, token_table_releases_places_on_expiry_and_removal) {
    admission_control admission(limits(0, 2, 0));
    connection_manager manager(15s);
    auto unused = manager.issue(1, false, {}, admission.admit("10.0.0.1", "").lease);
    auto used = manager.issue(1, false, {}, admission.admit("10.0.0.1", "").lease);
    ASSERT_EQ(manager.claim(used.token, transport_kind::websockets).status,
              connection_manager::claim_status::claimed);
    EXPECT_EQ(admission.admit("10.0.0.1", "").refused, refusal::connections_per_ip);

    manager.sweep(connection_manager::clock::now() + 16s);  // the unused token expires
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 1u);
    manager.remove(used.token);  // the connection ended
    EXPECT_EQ(admission.connections_from("10.0.0.1"), 0u);
    EXPECT_EQ(admission.connections(), 0u);
}

}  // namespace
}  // namespace switchboard::transport
