#include "core/duration.hpp"

#include <charconv>

namespace switchboard {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    long long value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || value < 0) {
        return std::nullopt;
    }
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    if (unit.empty() || unit == "ms") {
        return std::chrono::milliseconds(value);
    }
    if (unit == "s") {
        return std::chrono::seconds(value);
    }
    if (unit == "m" || unit == "min") {
        return std::chrono::minutes(value);
    }
    return std::nullopt;
}

}  // namespace switchboard
