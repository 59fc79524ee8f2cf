// A log-linear latency histogram (HDR-style): constant relative precision, cheap to record,
// mergeable across threads and generator processes.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace switchboard::loadgen {

// Values are unsigned integers (the generator records nanoseconds). Below 2 * 2^sub_bucket_bits
// they are exact; above, each power of two is cut into 2^sub_bucket_bits equal slots, so a
// reported value is within 1 / 2^sub_bucket_bits of the recorded one.
class histogram {
public:
    // 128 slots per power of two: at most 0.8% error, 36 KiB of counts for the whole range.
    static constexpr unsigned sub_bucket_bits = 7;
    // Larger values are clamped: 2^40 ns is about 18 minutes, far beyond any bench run.
    static constexpr std::uint64_t max_value = (std::uint64_t{1} << 40) - 1;

    histogram();

    void record(std::uint64_t value) noexcept;
    void merge(const histogram& other) noexcept;
    void reset() noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept;

    // The smallest recorded value (to the slot's precision) that at least `percentile` percent
    // of the recorded values do not exceed; 0 when empty. percentile in [0, 100].
    [[nodiscard]] std::uint64_t value_at_percentile(double percentile) const noexcept;

    // The non-empty slots as [[index, count], ...] plus min and max: what a generator worker
    // process sends to its parent.
    [[nodiscard]] boost::json::value to_json() const;
    // Adds the counts of a to_json() value; false (and nothing added) when it is malformed.
    bool merge_json(const boost::json::value& json);

    // Slot arithmetic, public for the tests.
    [[nodiscard]] static std::size_t index_of(std::uint64_t value) noexcept;
    // The largest value that falls into slot `index`.
    [[nodiscard]] static std::uint64_t highest_in(std::size_t index) noexcept;

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t min_ = 0;
    std::uint64_t max_ = 0;
    long double sum_ = 0;
};

}  // namespace switchboard::loadgen
