#include "events/history.hpp"

#include <algorithm>

namespace switchboard::events {

bool history::append(stored_event event, std::uint64_t now_ms) {
    if (event.id <= floor_) {
        return false;
    }
    // Nearly always at the end: ids of one channel grow; only events of two publishers racing
    // on different instances arrive out of order.
    const auto at = std::lower_bound(events_.begin(), events_.end(), event.id,
                                     [](const stored_event& e, event_id id) { return e.id < id; });
    if (at != events_.end() && at->id == event.id) {
        return false;
    }
    events_.insert(at, std::move(event));
    while (events_.size() > max_count_) {
        drop_oldest();
    }
    trim(now_ms);
    return true;
}

void history::drop_oldest() {
    raise_floor(events_.front().id);
    events_.pop_front();
}

void history::trim(std::uint64_t now_ms) {
    while (!events_.empty() && now_ms >= events_.front().stored_ms &&
           now_ms - events_.front().stored_ms > max_age_ms_) {
        drop_oldest();
    }
}

history::slice history::after(event_id id, std::uint64_t now_ms) {
    trim(now_ms);
    slice result;
    result.complete = id >= floor_;
    if (!result.complete) {
        return result;
    }
    const auto from =
        std::upper_bound(events_.begin(), events_.end(), id,
                         [](event_id id, const stored_event& e) { return id < e.id; });
    result.events.assign(from, events_.end());
    return result;
}

}  // namespace switchboard::events
