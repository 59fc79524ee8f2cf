#include "events/history.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace switchboard::events {
namespace {

using namespace std::chrono_literals;

stored_event event(std::uint64_t ms, std::uint64_t seq, std::uint64_t stored_ms = 0) {
    return {event_id{ms, seq}, make_shared_buffer(std::to_string(ms) + "-" + std::to_string(seq)),
            stored_ms};
}

std::vector<std::string> texts(const history::slice& slice) {
    std::vector<std::string> out;
    for (const auto& e : slice.events) {
        out.push_back(*e.sse);
    }
    return out;
}

TEST(history, reads_after_an_id) {
    history h(10, 1h, event_id{100, 0});
    for (std::uint64_t i = 1; i <= 3; ++i) {
        ASSERT_TRUE(h.append(event(100 + i, 0), 0));
    }
    const auto all = h.after(event_id{100, 0}, 0);
    EXPECT_TRUE(all.complete);
    EXPECT_EQ(texts(all), (std::vector<std::string>{"101-0", "102-0", "103-0"}));
    EXPECT_EQ(texts(h.after(event_id{102, 0}, 0)), (std::vector<std::string>{"103-0"}));
    // An id between two events, and one newer than all of them.
    EXPECT_EQ(texts(h.after(event_id{101, 5}, 0)), (std::vector<std::string>{"102-0", "103-0"}));
    const auto none = h.after(event_id{200, 0}, 0);
    EXPECT_TRUE(none.complete);
    EXPECT_TRUE(none.events.empty());
}

TEST(history, older_than_what_it_knows_is_a_reset) {
    history h(10, 1h, event_id{100, 0});
    ASSERT_TRUE(h.append(event(101, 0), 0));
    EXPECT_FALSE(h.after(event_id{99, 9}, 0).complete);
    EXPECT_TRUE(h.after(event_id{100, 0}, 0).complete);
}

TEST(history, trims_by_count_and_then_resets_older_ids) {
    history h(2, 1h, event_id{0, 0});
    for (std::uint64_t i = 1; i <= 4; ++i) {
        ASSERT_TRUE(h.append(event(i, 0), 0));
    }
    EXPECT_EQ(h.size(), 2U);
    EXPECT_EQ(h.floor(), (event_id{2, 0}));
    EXPECT_FALSE(h.after(event_id{1, 0}, 0).complete);
    EXPECT_EQ(texts(h.after(event_id{2, 0}, 0)), (std::vector<std::string>{"3-0", "4-0"}));
}

TEST(history, trims_by_age) {
    history h(10, 1000ms, event_id{0, 0});
    ASSERT_TRUE(h.append(event(1, 0, 0), 0));
    ASSERT_TRUE(h.append(event(2, 0, 500), 500));
    EXPECT_EQ(h.after(event_id{0, 0}, 1000).events.size(), 2U);
    const auto later = h.after(event_id{2, 0}, 1200);
    EXPECT_TRUE(later.complete);
    EXPECT_EQ(h.size(), 1U);
    EXPECT_FALSE(h.after(event_id{0, 0}, 1200).complete);
    h.trim(1600);
    EXPECT_TRUE(h.empty());
    EXPECT_TRUE(h.after(event_id{2, 0}, 1600).complete);
}

TEST(history, keeps_id_order_and_refuses_duplicates_and_old_ids) {
    history h(10, 1h, event_id{10, 0});
    ASSERT_TRUE(h.append(event(12, 0), 0));
    ASSERT_TRUE(h.append(event(11, 0), 0));  // a racing publisher's event arrives late
    EXPECT_FALSE(h.append(event(12, 0), 0));
    EXPECT_FALSE(h.append(event(10, 0), 0));
    EXPECT_EQ(texts(h.after(event_id{10, 0}, 0)), (std::vector<std::string>{"11-0", "12-0"}));
}

}  // namespace
}  // namespace switchboard::events
