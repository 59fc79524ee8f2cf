// compare_log_ids: log ids order as (ms, seq) pairs of numbers, never as strings.
#include "routing/durable_log.hpp"

#include <gtest/gtest.h>

namespace switchboard::routing {
namespace {

TEST(CompareLogIds, orders_by_milliseconds_then_sequence_as_numbers) {
    EXPECT_LT(compare_log_ids("9-0", "10-0"), 0);  // "9" > "10" as strings
    EXPECT_GT(compare_log_ids("10-0", "9-0"), 0);
    EXPECT_LT(compare_log_ids("10-2", "10-10"), 0);
    EXPECT_GT(compare_log_ids("11-0", "10-99"), 0);
    EXPECT_EQ(compare_log_ids("1700000000000-3", "1700000000000-3"), 0);
    EXPECT_LT(compare_log_ids("0-0", "0-1"), 0);
    // Beyond 2^53: no floating point on the way.
    EXPECT_LT(compare_log_ids("18446744073709551614-0", "18446744073709551615-0"), 0);
    EXPECT_LT(compare_log_ids("5-18446744073709551614", "5-18446744073709551615"), 0);
}

TEST(CompareLogIds, a_bare_millisecond_is_sequence_zero) {
    EXPECT_EQ(compare_log_ids("10", "10-0"), 0);
    EXPECT_LT(compare_log_ids("10", "10-1"), 0);
}

TEST(CompareLogIds, malformed_ids_order_before_every_well_formed_one) {
    for (const auto* bad :
         {"", "-", "x-1", "1-", "1-x", "-1", "1-2-3", "18446744073709551616-0", " 1-0"}) {
        EXPECT_LT(compare_log_ids(bad, "0-0"), 0) << bad;
        EXPECT_GT(compare_log_ids("0-0", bad), 0) << bad;
        EXPECT_EQ(compare_log_ids(bad, "garbage"), 0) << bad;
    }
}

}  // namespace
}  // namespace switchboard::routing
