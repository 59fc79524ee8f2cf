#include "core/duration.hpp"

#include <charconv>
#include <limits>

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
    long long factor = 0;
    if (unit == "s") {
        factor = 1000;
    } else if (unit == "m" || unit == "min") {
        factor = 60'000;
    } else if (unit == "h") {
        factor = 3'600'000;  // token lifetimes (`switchboard token --expires 1h`)
    } else {
        return std::nullopt;
    }
    // Huge values would overflow the milliseconds count and turn into negative timeouts.
    if (value > std::numeric_limits<long long>::max() / factor) {
        return std::nullopt;
    }
    return std::chrono::milliseconds(value * factor);
}

}  // namespace switchboard
