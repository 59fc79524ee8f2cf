#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace switchboard::loadgen {

namespace {

constexpr std::uint64_t slots = std::uint64_t{1} << histogram::sub_bucket_bits;

}  // namespace

std::size_t histogram::index_of(std::uint64_t value) noexcept {
    value = std::min(value, max_value);
    if (value < 2 * slots) {
        return static_cast<std::size_t>(value);
    }
    const auto shift = static_cast<unsigned>(std::bit_width(value)) - 1 - sub_bucket_bits;
    return static_cast<std::size_t>(shift * slots + (value >> shift));
}

std::uint64_t histogram::highest_in(std::size_t index) noexcept {
    if (index < 2 * slots) {
        return index;
    }
    const auto shift = index / slots - 1;
    const auto mantissa = index - shift * slots;
    return ((mantissa + 1) << shift) - 1;
}

histogram::histogram() : counts_(index_of(max_value) + 1, 0) {}

void histogram::record(std::uint64_t value) noexcept {
    value = std::min(value, max_value);
    ++counts_[index_of(value)];
    min_ = count_ == 0 ? value : std::min(min_, value);
    max_ = std::max(max_, value);
    ++count_;
    sum_ += static_cast<long double>(value);
}

void histogram::merge(const histogram& other) noexcept {
    if (other.count_ == 0) {
        return;
    }
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        counts_[i] += other.counts_[i];
    }
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
}

void histogram::reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = min_ = max_ = 0;
    sum_ = 0;
}

double histogram::mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t histogram::value_at_percentile(double percentile) const noexcept {
    if (count_ == 0) {
        return 0;
    }
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The rank of the wanted value, 1-based: the 50th percentile of 10 values is the 5th. The
    // epsilon keeps 99.9 / 100 * 1000 (999.0000000000001 in binary) at rank 999.
    const auto exact = percentile / 100.0 * static_cast<double>(count_);
    const auto rank =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(exact - 1e-9 * exact)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            return std::clamp(highest_in(i), min_, max_);
        }
    }
    return max_;
}

boost::json::value histogram::to_json() const {
    boost::json::array slots_json;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        if (counts_[i] != 0) {
            slots_json.push_back(boost::json::array{i, counts_[i]});
        }
    }
    return boost::json::object{{"min", min()},
                               {"max", max_},
                               {"sum", static_cast<double>(sum_)},
                               {"slots", std::move(slots_json)}};
}

bool histogram::merge_json(const boost::json::value& json) {
    const auto* object = json.if_object();
    if (object == nullptr) {
        return false;
    }
    const auto* min_json = object->if_contains("min");
    const auto* max_json = object->if_contains("max");
    const auto* sum_json = object->if_contains("sum");
    const auto* slots_json = object->if_contains("slots");
    if (min_json == nullptr || max_json == nullptr || sum_json == nullptr ||
        slots_json == nullptr || !slots_json->is_array()) {
        return false;
    }
    histogram parsed;
    boost::system::error_code ec;
    for (const auto& slot : slots_json->get_array()) {
        const auto* pair = slot.if_array();
        if (pair == nullptr || pair->size() != 2) {
            return false;
        }
        const auto index = (*pair)[0].to_number<std::uint64_t>(ec);
        if (ec || index >= parsed.counts_.size()) {
            return false;
        }
        const auto count = (*pair)[1].to_number<std::uint64_t>(ec);
        if (ec) {
            return false;
        }
        parsed.counts_[index] += count;
        parsed.count_ += count;
    }
    parsed.min_ = min_json->to_number<std::uint64_t>(ec);
    if (ec) {
        return false;
    }
    parsed.max_ = max_json->to_number<std::uint64_t>(ec);
    if (ec) {
        return false;
    }
    parsed.sum_ = sum_json->to_number<double>(ec);
    if (ec) {
        return false;
    }
    merge(parsed);
    return true;
}

}  // namespace switchboard::loadgen
