// Hands chat events from the connection's thread to the console thread: bounded, with an
// eventfd the console's poll() waits on, and a final "closed" that is never dropped.
#pragma once

#include "chat/event_format.hpp"

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::chat {

class event_queue {
public:
    explicit event_queue(std::size_t capacity);
    ~event_queue();
    event_queue(const event_queue&) = delete;
    event_queue& operator=(const event_queue&) = delete;

    // Queues `event` unless `capacity` are waiting: then it is counted as dropped.
    void push(chat_event event);
    // Wakes the console without an event (an invocation completed).
    void notify();
    // The connection is closed for good; kept apart from the events so a full queue cannot
    // lose it.
    void close(std::string reason);

    struct batch {
        std::vector<chat_event> events;
        std::size_t dropped = 0;  // since the previous take()
        std::optional<std::string> closed;
    };
    // Everything queued so far; resets the file descriptor's readiness.
    batch take();
    // Readable while something is queued or a notify() is pending.
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    void wake() noexcept;

    const std::size_t capacity_;
    int fd_ = -1;
    std::mutex mutex_;
    std::deque<chat_event> events_;
    std::size_t dropped_ = 0;
    std::optional<std::string> closed_;
};

}  // namespace switchboard::chat
