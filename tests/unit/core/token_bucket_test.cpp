#include "core/token_bucket.hpp"

#include <gtest/gtest.h>

namespace switchboard {
namespace {

using namespace std::chrono_literals;
using clock = token_bucket::clock;

int take_all(token_bucket& bucket, const rate_limit& limit, clock::time_point now) {
    int taken = 0;
    while (taken < 10'000 && bucket.try_take(limit, now)) {
        ++taken;
    }
    return taken;
}

TEST(token_bucket, a_new_bucket_allows_exactly_its_burst) {
    const rate_limit limit{10, 5};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    EXPECT_EQ(take_all(bucket, limit, start), 5);
    EXPECT_FALSE(bucket.try_take(limit, start));
}

TEST(token_bucket, refills_at_the_rate_and_never_above_the_burst) {
    const rate_limit limit{10, 5};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    ASSERT_EQ(take_all(bucket, limit, start), 5);
    // 10 a second: one token per 100 ms.
    EXPECT_FALSE(bucket.try_take(limit, start + 50ms));
    EXPECT_TRUE(bucket.try_take(limit, start + 100ms));
    EXPECT_FALSE(bucket.try_take(limit, start + 100ms));
    EXPECT_EQ(take_all(bucket, limit, start + 400ms), 3);
    // A long pause refills to the burst, not beyond.
    EXPECT_EQ(take_all(bucket, limit, start + 1h), 5);
}

TEST(token_bucket, sustained_rate_is_enforced_over_time) {
    const rate_limit limit{100, 10};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    int taken = 0;
    // A client trying every millisecond for 10 s gets the burst plus 100 a second.
    for (int ms = 0; ms < 10'000; ++ms) {
        taken += bucket.try_take(limit, start + std::chrono::milliseconds(ms)) ? 1 : 0;
    }
    EXPECT_GE(taken, 10 + 999 - 1);
    EXPECT_LE(taken, 10 + 1000 + 1);
}

TEST(token_bucket, zero_rate_means_unlimited) {
    const rate_limit limit{0, 0};
    EXPECT_TRUE(limit.unlimited());
    token_bucket bucket(limit, clock::now());
    EXPECT_EQ(take_all(bucket, limit, clock::now()), 10'000);
}

TEST(token_bucket, a_burst_below_one_still_admits_one) {
    const rate_limit limit{1, 0};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    EXPECT_TRUE(bucket.try_take(limit, start));
    EXPECT_FALSE(bucket.try_take(limit, start));
    EXPECT_TRUE(bucket.try_take(limit, start + 1s));
}

TEST(token_bucket, an_earlier_time_neither_refills_nor_breaks_the_bucket) {
    const rate_limit limit{10, 2};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    ASSERT_EQ(take_all(bucket, limit, start), 2);
    EXPECT_FALSE(bucket.try_take(limit, start - 10s));
    EXPECT_TRUE(bucket.try_take(limit, start + 100ms));
}

TEST(token_bucket, full_tells_when_forgetting_the_bucket_changes_nothing) {
    const rate_limit limit{10, 5};
    const auto start = clock::now();
    token_bucket bucket(limit, start);
    EXPECT_TRUE(bucket.full(limit, start));
    ASSERT_TRUE(bucket.try_take(limit, start));
    ASSERT_TRUE(bucket.try_take(limit, start));
    EXPECT_FALSE(bucket.full(limit, start + 100ms));
    EXPECT_TRUE(bucket.full(limit, start + 200ms));
}

}  // namespace
}  // namespace switchboard
