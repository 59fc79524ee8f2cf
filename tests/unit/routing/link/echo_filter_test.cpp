#include "routing/link/echo_filter.hpp"

#include <gtest/gtest.h>

namespace switchboard::routing::link {
namespace {

using clock = echo_filter::clock;
using std::chrono::seconds;

TEST(echo_filter, an_own_publication_is_taken_once) {
    echo_filter filter;
    const auto now = clock::now();
    filter.remember(make_shared_buffer("a"), now, seconds{10}, true);
    EXPECT_FALSE(filter.take("b", now));  // another server's message
    EXPECT_TRUE(filter.take("a", now));
    EXPECT_FALSE(filter.take("a", now));  // the second copy is someone else's
    EXPECT_TRUE(filter.empty());
}

TEST(echo_filter, identical_bytes_are_matched_in_order) {
    echo_filter filter;
    const auto now = clock::now();
    filter.remember(make_shared_buffer("x"), now, seconds{10}, true);
    filter.remember(make_shared_buffer("y"), now, seconds{10}, true);
    filter.remember(make_shared_buffer("x"), now, seconds{10}, true);
    EXPECT_TRUE(filter.take("x", now));
    EXPECT_TRUE(filter.take("x", now));
    EXPECT_FALSE(filter.take("x", now));
    EXPECT_TRUE(filter.take("y", now));
}

TEST(echo_filter, echoes_that_never_came_are_forgotten_after_the_window) {
    echo_filter filter;
    const auto now = clock::now();
    filter.remember(make_shared_buffer("lost"), now, seconds{10}, true);
    EXPECT_FALSE(filter.take("lost", now + seconds{11}));
    EXPECT_TRUE(filter.empty());
}

TEST(echo_filter, while_the_bus_is_down_the_window_starts_at_its_return) {
    echo_filter filter;
    const auto now = clock::now();
    filter.remember(make_shared_buffer("buffered"), now, seconds{10}, false);
    // An outage longer than the window: still remembered.
    const auto back = now + seconds{60};
    filter.remember(make_shared_buffer("other"), back, seconds{10}, false);
    filter.bus_up(back + seconds{10});
    EXPECT_TRUE(filter.take("buffered", back + seconds{5}));
    EXPECT_FALSE(filter.take("other", back + seconds{11}));
}

}  // namespace
}  // namespace switchboard::routing::link
