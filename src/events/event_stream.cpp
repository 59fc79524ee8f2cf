#include "events/event_stream.hpp"

#include "events/event_format.hpp"

#include <boost/asio/write.hpp>

namespace switchboard::events {

namespace asio = boost::asio;

event_stream::event_stream(http::stream stream, registry& events, std::vector<std::string> channels,
                           std::optional<event_id> resume_from, switchboard::metrics* counters)
    : stream_(std::move(stream)),
      events_(events),
      channels_(std::move(channels)),
      resume_from_(resume_from),
      counters_(counters),
      keep_alive_timer_(stream_.get_executor()) {
    if (counters_ != nullptr) {
        counters_->events_subscribers.add();
    }
}

event_stream::~event_stream() {
    // finish() ran on the shard (it unsubscribed); at process teardown the registry may be
    // gone, so nothing here touches it.
    if (counters_ != nullptr) {
        counters_->events_subscribers.sub();
    }
}

void event_stream::run(std::string response_head) {
    response_head += retry_preamble;
    enqueue(make_shared_buffer(std::move(response_head)));
    events_.subscribe(*this, channels_, resume_from_);
    subscribed_ = true;
    do_watch();
    do_keep_alive(last_output_ + events_.options().keep_alive);
}

void event_stream::deliver(const shared_buffer& sse) {
    if (finished_) {
        return;
    }
    // Only what waits behind the write in flight counts, and one event always fits (an event
    // is bounded by --max-body-size, which may exceed the queue limit): a subscriber that
    // keeps up is never dropped, one that stalls is once the waiting events exceed the limit.
    if (!queue_.empty() && queued_bytes_ + sse->size() > events_.options().queue_limit) {
        // Too slow for the events it asked for: its EventSource reconnects and resumes.
        if (counters_ != nullptr) {
            counters_->events_dropped.add();
        }
        return finish();
    }
    enqueue(sse);
}

void event_stream::enqueue(shared_buffer bytes) {
    queued_bytes_ += bytes->size();
    queue_.push_back(std::move(bytes));
    last_output_ = std::chrono::steady_clock::now();
    if (!write_in_flight_) {
        do_write();
    }
}

void event_stream::do_watch() {
    // Reading only detects the client going away (EOF or reset); any bytes are discarded.
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                if (ec) {
                                    return self->finish();
                                }
                                self->do_watch();
                            });
}

void event_stream::release(std::vector<shared_buffer> first) {
    if (finished_) {
        return;
    }
    held_ = false;
    for (auto it = first.rbegin(); it != first.rend(); ++it) {
        queued_bytes_ += (*it)->size();
        queue_.push_front(std::move(*it));
    }
    if (!write_in_flight_) {
        do_write();
    }
}

void event_stream::do_write() {
    // While held, only the response head (first in the queue) goes out.
    if (queue_.empty() || finished_ || (held_ && head_written_)) {
        return;
    }
    head_written_ = true;
    // Everything queued goes out in one gather write: one syscall for many events.
    const auto end = held_ ? queue_.begin() + 1 : queue_.end();
    writing_.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
    queue_.erase(queue_.begin(), end);
    write_buffers_.clear();
    for (const auto& buffer : writing_) {
        queued_bytes_ -= buffer->size();
        write_buffers_.emplace_back(buffer->data(), buffer->size());
    }
    write_in_flight_ = true;
    asio::async_write(stream_, write_buffers_,
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          self->on_write(ec);
                      });
}

void event_stream::on_write(boost::system::error_code ec) {
    write_in_flight_ = false;
    writing_.clear();
    if (ec) {
        return finish();
    }
    do_write();
}

void event_stream::do_keep_alive(std::chrono::steady_clock::time_point at) {
    keep_alive_timer_.expires_at(at);
    keep_alive_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) {
            self->on_keep_alive();
        }
    });
}

void event_stream::on_keep_alive() {
    if (finished_) {
        return;
    }
    const auto interval = events_.options().keep_alive;
    if (std::chrono::steady_clock::now() - last_output_ >= interval) {
        static const auto comment = make_shared_buffer(std::string(keep_alive_comment));
        enqueue(comment);
    }
    do_keep_alive(last_output_ + interval);
}

void event_stream::close() {
    finish();
}

void event_stream::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (subscribed_) {
        events_.unsubscribe(*this, channels_);
    }
    keep_alive_timer_.cancel();
    boost::system::error_code ignored;
    // The response has no length: closing the connection ends it.
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
}

}  // namespace switchboard::events
