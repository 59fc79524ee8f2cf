// The bounded history of one channel (by count and by age) that Last-Event-ID resumes from,
// and the floor below which it can no longer vouch for having every event.
#pragma once

#include "core/shared_buffer.hpp"
#include "events/event_id.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace switchboard::events {

struct stored_event {
    event_id id;
    shared_buffer sse;            // the formatted SSE event, shared with every subscriber's queue
    std::uint64_t stored_ms = 0;  // when this instance stored it (age trimming)
};

// Invariant: events are in strictly increasing id order; after() returns only events newer
// than both the requested id and floor() (raise_floor() may leave older ones until trimmed).
// Thread safety: none; it lives on its channel's home shard.
class history {
public:
    history(std::size_t max_count, std::chrono::milliseconds max_age, event_id floor)
        : max_count_(max_count),
          max_age_ms_(static_cast<std::uint64_t>(max_age.count())),
          floor_(floor) {}

    // Stores `event` in id order; false (and nothing stored) for an id already present or not
    // above the floor (a late duplicate from the bus).
    bool append(stored_event event, std::uint64_t now_ms);
    // Drops events older than the age limit.
    void trim(std::uint64_t now_ms);

    struct slice {
        // False: events after the requested id may be missing here (trimmed, or not seen).
        bool complete = false;
        std::vector<stored_event> events;
    };
    // The events after `id`, oldest first.
    [[nodiscard]] slice after(event_id id, std::uint64_t now_ms);

    // Declares events up to `id` possibly missing (this instance was not listening).
    void raise_floor(event_id id) {
        if (id > floor_) {
            floor_ = id;
        }
    }
    [[nodiscard]] event_id floor() const noexcept { return floor_; }
    [[nodiscard]] bool empty() const noexcept { return events_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return events_.size(); }

private:
    void drop_oldest();

    std::size_t max_count_;
    std::uint64_t max_age_ms_;
    event_id floor_;
    std::deque<stored_event> events_;
};

}  // namespace switchboard::events
