#include "routing/link/backoff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace switchboard::routing::link {
namespace {

using std::chrono::milliseconds;

TEST(backoff, delays_stay_within_initial_and_cap) {
    backoff delays(milliseconds{100}, milliseconds{5000}, 1);
    for (int i = 0; i < 1000; ++i) {
        const auto delay = delays.next();
        EXPECT_GE(delay, milliseconds{100});
        EXPECT_LE(delay, milliseconds{5000});
    }
}

TEST(backoff, each_delay_is_at_most_three_times_the_previous) {
    backoff delays(milliseconds{100}, milliseconds{1'000'000}, 2);
    auto previous = milliseconds{100};
    for (int i = 0; i < 200; ++i) {
        const auto delay = delays.next();
        EXPECT_LE(delay, 3 * previous);
        previous = delay;
    }
}

TEST(backoff, grows_towards_the_cap_and_reaches_it) {
    backoff delays(milliseconds{100}, milliseconds{5000}, 3);
    milliseconds largest{0};
    for (int i = 0; i < 200; ++i) {
        largest = std::max(largest, delays.next());
    }
    // Uniform draws up to the cap: after a few failures most delays lie in the seconds.
    EXPECT_GT(largest, milliseconds{4000});
}

TEST(backoff, reset_starts_again_from_initial) {
    backoff delays(milliseconds{100}, milliseconds{5000}, 4);
    EXPECT_TRUE(delays.fresh());
    for (int i = 0; i < 50; ++i) {
        (void)delays.next();
    }
    EXPECT_FALSE(delays.fresh());
    delays.reset();
    EXPECT_TRUE(delays.fresh());
    EXPECT_LE(delays.next(), milliseconds{300});  // [initial, 3 x initial]
    EXPECT_EQ(delays.spread(), milliseconds{200});
}

TEST(backoff, spread_is_the_width_of_the_last_range_and_survives_reset) {
    backoff delays(milliseconds{100}, milliseconds{5000}, 5);
    EXPECT_EQ(delays.spread(), milliseconds{0});
    for (int i = 0; i < 100; ++i) {
        (void)delays.next();
    }
    const auto spread = delays.spread();
    EXPECT_GT(spread, milliseconds{0});
    EXPECT_LE(spread, milliseconds{4900});
    delays.reset();
    EXPECT_EQ(delays.spread(), spread);
}

TEST(backoff, two_seeds_do_not_retry_in_lockstep) {
    backoff a(milliseconds{100}, milliseconds{5000}, backoff::process_seed());
    backoff b(milliseconds{100}, milliseconds{5000}, backoff::process_seed());
    int equal = 0;
    for (int i = 0; i < 20; ++i) {
        equal += a.next() == b.next() ? 1 : 0;
    }
    EXPECT_LT(equal, 5);
}

TEST(backoff, same_seed_same_schedule) {
    backoff a(milliseconds{100}, milliseconds{5000}, 42);
    backoff b(milliseconds{100}, milliseconds{5000}, 42);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(a.next(), b.next());
    }
}

TEST(backoff, degenerate_settings) {
    backoff zero(milliseconds{0}, milliseconds{10}, 6);
    std::set<long> seen;
    for (int i = 0; i < 200; ++i) {
        const auto delay = zero.next();
        EXPECT_LE(delay, milliseconds{10});
        seen.insert(delay.count());
    }
    EXPECT_GT(seen.size(), 1U);                                // a zero initial delay still grows
    backoff inverted(milliseconds{100}, milliseconds{50}, 7);  // max raised to initial
    EXPECT_EQ(inverted.next(), milliseconds{100});
    EXPECT_EQ(inverted.max(), milliseconds{100});
}

}  // namespace
}  // namespace switchboard::routing::link
