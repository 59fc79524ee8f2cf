// A bus that delivers a publication to its own publisher (Redis pub/sub, PostgreSQL NOTIFY, a
// NATS subscriber without no_echo): this instance's publications on one channel, remembered
// until their echo arrives, so that the echo is dropped instead of delivered twice.
#pragma once

#include "core/shared_buffer.hpp"

#include <chrono>
#include <deque>
#include <string_view>

namespace switchboard::routing::link {

// One per subscribed channel (a publication on a channel the instance does not hear comes
// back to nobody). The match is on the bytes: if another server publishes identical bytes
// first, that copy is dropped and the echo delivered instead, which clients cannot tell apart.
// Bounded by time: an entry whose echo did not come within the window (lost with a
// connection) is forgotten on the next call.
// Thread safety: none; the bus's shard.
class echo_filter {
public:
    using clock = std::chrono::steady_clock;

    [[nodiscard]] bool empty() const noexcept { return echoes_.empty(); }

    // A publication just handed to the bus: its echo is due within `window`, or, while the
    // bus is down (`bus_up` false), within `window` of its return (see bus_up()).
    void remember(shared_buffer payload, clock::time_point now, clock::duration window,
                  bool bus_up);
    // True, and the entry forgotten, when `payload` is one of ours.
    [[nodiscard]] bool take(std::string_view payload, clock::time_point now);
    // The bus is back: what was buffered goes out now, so its echoes are due from `expires`.
    void bus_up(clock::time_point expires) noexcept;

private:
    void forget_expired(clock::time_point now);

    struct pending {
        shared_buffer payload;
        clock::time_point expires;  // max() while the publication waits for the bus
    };
    std::deque<pending> echoes_;  // in publish order
};

}  // namespace switchboard::routing::link
