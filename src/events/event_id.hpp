// Event ids `<unix ms>-<seq>` (the form of Redis stream ids) and the per-channel clock that
// assigns them, strictly increasing even when the system clock steps back.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::events {

struct event_id {
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;

    friend constexpr auto operator<=>(const event_id&, const event_id&) = default;
};

// The largest id below every id of millisecond `ms`: "everything before this millisecond".
// Floors and watermarks use it, so that an id another instance assigns in that same
// millisecond ({ms, 0}) still counts as after them.
constexpr event_id before_ms(std::uint64_t ms) {
    return ms == 0 ? event_id{} : event_id{ms - 1, UINT64_MAX};
}

// The largest id of millisecond `ms`: "everything up to and including this millisecond". A
// floor set while other instances publish uses it: an event they assigned in this same
// millisecond may not have been heard here, so it must not count as covered.
constexpr event_id through_ms(std::uint64_t ms) {
    return event_id{ms, UINT64_MAX};
}

// "1764758400000-0"; both parts decimal, no sign, no leading '+', at most 20 digits each.
std::optional<event_id> parse_event_id(std::string_view text);
std::string format_event_id(event_id id);
void append_event_id(event_id id, std::string& out);

// Milliseconds since the Unix epoch of the system clock.
std::uint64_t unix_ms_now();

// Hybrid-logical-clock ids of one channel: the wall-clock millisecond when it moved past the
// last id, else the last id's millisecond with the next sequence number. observe() takes in
// ids assigned elsewhere (other instances), so a later local id is larger than any seen.
class id_clock {
public:
    id_clock() = default;
    explicit id_clock(event_id last) : last_(last) {}

    event_id next(std::uint64_t now_ms) {
        last_ = now_ms > last_.ms ? event_id{now_ms, 0} : event_id{last_.ms, last_.seq + 1};
        return last_;
    }
    // Ids of this instance's own making while a shared history (Redis) assigns the others:
    // their sequence lies in a range Redis never reaches (it counts from 0 within each
    // millisecond), so the two kinds never collide. Still strictly increasing.
    static constexpr std::uint64_t reserved_base = std::uint64_t{1} << 62;
    event_id next_reserved(std::uint64_t now_ms) {
        if (now_ms > last_.ms) {
            last_ = event_id{now_ms, reserved_base};
        } else {
            last_ = event_id{last_.ms, std::max(last_.seq + 1, reserved_base)};
        }
        return last_;
    }
    void observe(event_id seen) {
        if (seen > last_) {
            last_ = seen;
        }
    }
    [[nodiscard]] event_id last() const noexcept { return last_; }

private:
    event_id last_{};
};

}  // namespace switchboard::events
