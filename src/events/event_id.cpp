#include "events/event_id.hpp"

#include <charconv>
#include <chrono>

namespace switchboard::events {

namespace {

// A run of 1 to 20 decimal digits that fits in 64 bits; nothing else.
std::optional<std::uint64_t> parse_number(std::string_view text) {
    if (text.empty() || text.size() > 20) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::optional<event_id> parse_event_id(std::string_view text) {
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    const auto ms = parse_number(text.substr(0, dash));
    const auto seq = parse_number(text.substr(dash + 1));
    if (!ms || !seq) {
        return std::nullopt;
    }
    return event_id{*ms, *seq};
}

void append_event_id(event_id id, std::string& out) {
    out += std::to_string(id.ms);
    out += '-';
    out += std::to_string(id.seq);
}

std::string format_event_id(event_id id) {
    std::string out;
    append_event_id(id, out);
    return out;
}

std::uint64_t unix_ms_now() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

}  // namespace switchboard::events
