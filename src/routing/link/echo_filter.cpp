#include "routing/link/echo_filter.hpp"

#include <utility>

namespace switchboard::routing::link {

void echo_filter::forget_expired(clock::time_point now) {
    while (!echoes_.empty() && echoes_.front().expires <= now) {
        echoes_.pop_front();
    }
}

void echo_filter::remember(shared_buffer payload, clock::time_point now, clock::duration window,
                           bool bus_up) {
    forget_expired(now);
    echoes_.push_back({std::move(payload), bus_up ? now + window : clock::time_point::max()});
}

bool echo_filter::take(std::string_view payload, clock::time_point now) {
    forget_expired(now);
    for (auto it = echoes_.begin(); it != echoes_.end(); ++it) {
        if (*it->payload == payload) {
            echoes_.erase(it);
            return true;
        }
    }
    return false;
}

void echo_filter::bus_up(clock::time_point expires) noexcept {
    for (auto& echo : echoes_) {
        if (echo.expires == clock::time_point::max()) {
            echo.expires = expires;
        }
    }
}

}  // namespace switchboard::routing::link
