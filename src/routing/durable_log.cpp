#include "routing/durable_log.hpp"

#include <charconv>
#include <cstdint>
#include <utility>

namespace switchboard::routing {

namespace {

// "<ms>-<seq>" (a bare "<ms>" means seq 0, as Redis reads it); nullopt when malformed.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_log_id(std::string_view id) {
    const auto dash = id.find('-');
    const auto ms_part = id.substr(0, dash);
    std::pair<std::uint64_t, std::uint64_t> parsed{0, 0};
    const auto read = [](std::string_view text, std::uint64_t& out) {
        const auto* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, out);
        return !text.empty() && ec == std::errc() && ptr == end;
    };
    if (!read(ms_part, parsed.first)) {
        return std::nullopt;
    }
    if (dash != std::string_view::npos && !read(id.substr(dash + 1), parsed.second)) {
        return std::nullopt;
    }
    return parsed;
}

}  // namespace

int compare_log_ids(std::string_view a, std::string_view b) noexcept {
    const auto x = parse_log_id(a);
    const auto y = parse_log_id(b);
    if (!x || !y) {
        return static_cast<int>(x.has_value()) - static_cast<int>(y.has_value());
    }
    return *x < *y ? -1 : (*x == *y ? 0 : 1);
}

}  // namespace switchboard::routing
