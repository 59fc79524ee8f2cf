#include "core/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string_view>

namespace switchboard {
namespace {

using namespace std::chrono_literals;

TEST(parse_duration, reads_seconds_milliseconds_minutes_and_hours) {
    EXPECT_EQ(parse_duration("15s"), 15'000ms);
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("2m"), 120'000ms);
    EXPECT_EQ(parse_duration("1h"), 3'600'000ms);
    EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(parse_duration, bare_number_is_milliseconds) {
    EXPECT_EQ(parse_duration("100"), 100ms);
}

TEST(parse_duration, rejects_malformed_text) {
    for (const std::string_view text : {"", "abc", "s", "1.5s", "15 s", "+5s", "5sec", "ms15"}) {
        EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(parse_duration, rejects_negative_durations) {
    EXPECT_EQ(parse_duration("-1s"), std::nullopt);
    EXPECT_EQ(parse_duration("-1"), std::nullopt);
}

TEST(parse_duration, rejects_unknown_units) {
    EXPECT_EQ(parse_duration("5d"), std::nullopt);
    EXPECT_EQ(parse_duration("5H"), std::nullopt);
}

TEST(parse_duration, rejects_values_that_overflow_milliseconds) {
    // Regression: the conversion to milliseconds used to overflow into negative timeouts.
    EXPECT_EQ(parse_duration("9223372036854775807s"), std::nullopt);
    EXPECT_EQ(parse_duration("9223372036854775807m"), std::nullopt);
    EXPECT_EQ(parse_duration("9223372036854775807h"), std::nullopt);
}

}  // namespace
}  // namespace switchboard
