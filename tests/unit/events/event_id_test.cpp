#include "events/event_id.hpp"

#include <gtest/gtest.h>

namespace switchboard::events {
namespace {

TEST(event_id, parses_and_formats) {
    const auto id = parse_event_id("1764758400000-7");
    ASSERT_TRUE(id);
    EXPECT_EQ(id->ms, 1764758400000U);
    EXPECT_EQ(id->seq, 7U);
    EXPECT_EQ(format_event_id(*id), "1764758400000-7");
    EXPECT_EQ(format_event_id(event_id{0, 0}), "0-0");
}

TEST(event_id, refuses_malformed_ids) {
    for (const char* text :
         {"", "-", "1", "1-", "-1", "a-1", "1-b", "1-2-3", "+1-2", "1--2", " 1-2", "1-2 ",
          "99999999999999999999999-1", "18446744073709551616-0", "1.5-2"}) {
        EXPECT_FALSE(parse_event_id(text)) << text;
    }
    EXPECT_TRUE(parse_event_id("18446744073709551615-18446744073709551615"));
}

TEST(event_id, compares_as_two_numbers) {
    EXPECT_LT((event_id{9, 5}), (event_id{10, 0}));
    EXPECT_LT((event_id{10, 1}), (event_id{10, 2}));
    EXPECT_LT(*parse_event_id("999-10"), *parse_event_id("1000-2"));
    EXPECT_LT(*parse_event_id("1000-9"), *parse_event_id("1000-10"));
}

TEST(event_id, before_ms_is_below_every_id_of_that_millisecond) {
    EXPECT_LT(before_ms(1000), (event_id{1000, 0}));
    EXPECT_GT(before_ms(1000), (event_id{999, 123456}));
    EXPECT_EQ(before_ms(0), (event_id{}));
    id_clock clock(before_ms(1000));
    EXPECT_EQ(clock.next(1000), (event_id{1000, 0}));
}

TEST(id_clock, follows_the_wall_clock_and_never_goes_back) {
    id_clock clock;
    EXPECT_EQ(clock.next(1000), (event_id{1000, 0}));
    EXPECT_EQ(clock.next(1000), (event_id{1000, 1}));
    EXPECT_EQ(clock.next(1005), (event_id{1005, 0}));
    // The clock stepped back: the millisecond stays, the sequence grows.
    EXPECT_EQ(clock.next(900), (event_id{1005, 1}));
    EXPECT_EQ(clock.next(1005), (event_id{1005, 2}));
}

TEST(id_clock, sorts_after_ids_observed_from_elsewhere) {
    id_clock clock;
    clock.next(1000);
    clock.observe(event_id{2000, 4});
    EXPECT_EQ(clock.next(1500), (event_id{2000, 5}));
    clock.observe(event_id{10, 0});  // older: ignored
    EXPECT_EQ(clock.next(2001), (event_id{2001, 0}));
}

TEST(id_clock, reserved_ids_never_meet_the_ones_redis_assigns_and_keep_increasing) {
    id_clock clock;
    clock.observe(event_id{1000, 3});  // from the stream
    const auto a = clock.next_reserved(1000);
    EXPECT_EQ(a, (event_id{1000, id_clock::reserved_base}));
    const auto b = clock.next_reserved(999);  // the clock stepped back
    EXPECT_EQ(b, (event_id{1000, id_clock::reserved_base + 1}));
    clock.observe(event_id{1000, 4});  // a later stream id of the same millisecond: below
    EXPECT_EQ(clock.next_reserved(1000), (event_id{1000, id_clock::reserved_base + 2}));
    EXPECT_EQ(clock.next_reserved(1001), (event_id{1001, id_clock::reserved_base}));
}

}  // namespace
}  // namespace switchboard::events
