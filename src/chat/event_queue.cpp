#include "chat/event_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace switchboard::chat {

event_queue::event_queue(std::size_t capacity) : capacity_(capacity) {
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) {
        throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }
}

event_queue::~event_queue() {
    ::close(fd_);
}

void event_queue::wake() noexcept {
    const std::uint64_t one = 1;
    // Non-blocking: a full counter (2^64 - 2 wakes) still leaves the fd readable.
    [[maybe_unused]] const auto written = ::write(fd_, &one, sizeof one);
}

void event_queue::push(chat_event event) {
    {
        std::lock_guard lock(mutex_);
        if (events_.size() >= capacity_) {
            ++dropped_;
            return;
        }
        events_.push_back(std::move(event));
    }
    wake();
}

void event_queue::notify() {
    wake();
}

void event_queue::close(std::string reason) {
    {
        std::lock_guard lock(mutex_);
        if (!closed_) {
            closed_ = std::move(reason);
        }
    }
    wake();
}

event_queue::batch event_queue::take() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto read = ::read(fd_, &count, sizeof count);
    batch out;
    std::lock_guard lock(mutex_);
    out.events.assign(std::make_move_iterator(events_.begin()),
                      std::make_move_iterator(events_.end()));
    events_.clear();
    out.dropped = dropped_;
    dropped_ = 0;
    out.closed = closed_;
    return out;
}

}  // namespace switchboard::chat
