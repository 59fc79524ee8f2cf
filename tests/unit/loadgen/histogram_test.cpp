#include "loadgen/histogram.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>

namespace switchboard::loadgen {
namespace {

// Relative error a slot may add: 1 / 2^sub_bucket_bits.
constexpr double precision = 1.0 / (1 << histogram::sub_bucket_bits);

void expect_close(std::uint64_t actual, std::uint64_t expected) {
    const auto e = static_cast<double>(expected);
    EXPECT_GE(static_cast<double>(actual), e * (1 - precision)) << expected;
    EXPECT_LE(static_cast<double>(actual), e * (1 + precision)) << expected;
}

TEST(histogram, is_empty_at_first) {
    histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.value_at_percentile(50), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.mean(), 0.0);
}

TEST(histogram, small_values_are_exact) {
    histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) {
        h.record(v);
    }
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.value_at_percentile(50), 50u);
    EXPECT_EQ(h.value_at_percentile(99), 99u);
    EXPECT_EQ(h.value_at_percentile(100), 100u);
    EXPECT_EQ(h.value_at_percentile(0), 1u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(histogram, slots_are_contiguous_and_ordered) {
    std::size_t previous = 0;
    for (std::uint64_t v = 1; v < (std::uint64_t{1} << 20); v += 1 + v / 300) {
        const auto index = histogram::index_of(v);
        EXPECT_GE(index, previous) << v;
        EXPECT_LE(index, previous + 1) << v;
        EXPECT_GE(histogram::highest_in(index), v);
        if (index > 0) {
            EXPECT_LT(histogram::highest_in(index - 1), v);
        }
        previous = index;
    }
}

TEST(histogram, large_values_keep_their_relative_precision) {
    histogram h;
    // Latencies in nanoseconds from 1 us to 1 s: a log-uniform spread.
    for (std::uint64_t v = 1'000; v <= 1'000'000'000; v = v * 11 / 10) {
        h.record(v);
        histogram single;
        single.record(v);
        expect_close(single.value_at_percentile(50), v);
    }
    EXPECT_LE(h.value_at_percentile(50), h.value_at_percentile(99));
    EXPECT_LE(h.value_at_percentile(99), h.value_at_percentile(99.9));
    EXPECT_EQ(h.value_at_percentile(100), h.max());
}

TEST(histogram, percentiles_of_a_skewed_distribution) {
    histogram h;
    // 990 fast deliveries at 1 ms, 9 slow at 50 ms, one at 1 s.
    for (int i = 0; i < 990; ++i) {
        h.record(1'000'000);
    }
    for (int i = 0; i < 9; ++i) {
        h.record(50'000'000);
    }
    h.record(1'000'000'000);
    expect_close(h.value_at_percentile(50), 1'000'000);
    expect_close(h.value_at_percentile(99), 1'000'000);
    expect_close(h.value_at_percentile(99.9), 50'000'000);
    EXPECT_EQ(h.value_at_percentile(100), 1'000'000'000u);
}

TEST(histogram, clamps_values_beyond_the_range) {
    histogram h;
    h.record(~std::uint64_t{0});
    EXPECT_EQ(h.max(), histogram::max_value);
    EXPECT_EQ(h.value_at_percentile(50), histogram::max_value);
}

TEST(histogram, merge_equals_recording_everything_in_one) {
    histogram a;
    histogram b;
    histogram all;
    for (std::uint64_t v = 1; v < 5'000'000; v = v * 3 / 2 + 7) {
        (v % 2 == 0 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.min(), all.min());
    EXPECT_EQ(a.max(), all.max());
    EXPECT_DOUBLE_EQ(a.mean(), all.mean());
    for (const double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
        EXPECT_EQ(a.value_at_percentile(p), all.value_at_percentile(p)) << p;
    }
}

TEST(histogram, merging_an_empty_one_changes_nothing) {
    histogram a;
    a.record(42);
    a.merge(histogram());
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(a.min(), 42u);
    histogram empty;
    empty.merge(a);
    EXPECT_EQ(empty.min(), 42u);
}

TEST(histogram, json_round_trip_merges_across_processes) {
    histogram worker;
    for (std::uint64_t v = 500; v < 80'000'000; v = v * 5 / 4) {
        worker.record(v);
    }
    // What a worker process prints and its parent parses.
    const auto text = boost::json::serialize(worker.to_json());
    histogram parent;
    parent.record(7);
    ASSERT_TRUE(parent.merge_json(boost::json::parse(text)));
    EXPECT_EQ(parent.count(), worker.count() + 1);
    EXPECT_EQ(parent.min(), 7u);
    EXPECT_EQ(parent.max(), worker.max());
    EXPECT_EQ(parent.value_at_percentile(99), worker.value_at_percentile(99));
}

TEST(histogram, rejects_malformed_json) {
    histogram h;
    for (const char* text : {R"([])", R"({"min":0,"max":0,"sum":0})",
                             R"({"min":0,"max":0,"sum":0,"slots":[[99999999,1]]})",
                             R"({"min":0,"max":0,"sum":0,"slots":[[1]]})"}) {
        EXPECT_FALSE(h.merge_json(boost::json::parse(text))) << text;
    }
    EXPECT_EQ(h.count(), 0u);
}

}  // namespace
}  // namespace switchboard::loadgen
