#include "transport/long_polling.hpp"

#include <boost/asio/post.hpp>

namespace switchboard::transport {

namespace bhttp = boost::beast::http;

long_polling_transport::long_polling_transport(shard_pool& shards, connection_ptr connection,
                                               long_polling_options options)
    : shards_(shards),
      connection_(std::move(connection)),
      options_(options),
      timer_(shards.context(connection_->shard())) {}

void long_polling_transport::start(const std::shared_ptr<http::exchange>& first_poll) {
    answer(first_poll, bhttp::status::ok, {}, "application/octet-stream");
    arm_timer(options_.disconnect_timeout);
}

void long_polling_transport::poll(std::shared_ptr<http::exchange> poll) {
    if (ended_) {
        return answer(poll, bhttp::status::no_content, {}, "text/plain");
    }
    if (pending_) {
        // A newer poll replaces the older one, which the client no longer waits for.
        answer(std::exchange(pending_, nullptr), bhttp::status::no_content, {}, "text/plain");
    }
    pending_ = std::move(poll);
    if (connection_->has_output() || connection_->close_requested()) {
        return flush_to_pending();
    }
    arm_timer(options_.poll_timeout);
}

void long_polling_transport::terminate() {
    end();
}

void long_polling_transport::on_output_ready() {
    if (pending_) {
        flush_to_pending();
    }
}

void long_polling_transport::on_close_requested() {
    if (pending_) {
        flush_to_pending();
    }
}

void long_polling_transport::on_abort(std::uint16_t, std::string_view) {
    end();
}

void long_polling_transport::flush_to_pending() {
    std::vector<shared_buffer> output;
    connection_->take_output(output);
    auto poll = std::exchange(pending_, nullptr);
    if (output.empty()) {
        // Nothing left and the application is done: 204 tells the client to stop polling.
        answer(poll, bhttp::status::no_content, {}, "text/plain");
        return end();
    }
    std::size_t size = 0;
    for (const auto& buffer : output) {
        size += buffer->size();
    }
    std::string body;
    body.reserve(size);
    for (const auto& buffer : output) {
        body += *buffer;
    }
    answer(poll, bhttp::status::ok, std::move(body), "application/octet-stream");
    arm_timer(options_.disconnect_timeout);
}

void long_polling_transport::answer(const std::shared_ptr<http::exchange>& poll,
                                    bhttp::status status, std::string body,
                                    std::string_view content_type) {
    http::response res{status, poll->version()};
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::cache_control, "no-cache, no-store");
    res.set(bhttp::field::pragma, "no-cache");
    res.set(bhttp::field::expires, "Thu, 01 Jan 1970 00:00:00 GMT");
    res.keep_alive(poll->keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    boost::asio::post(shards_.context(poll->shard()),
                      [poll, res = std::move(res)]() mutable { poll->respond(std::move(res)); });
}

void long_polling_transport::arm_timer(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->ended_) {
            return;
        }
        if (self->pending_) {
            // Poll timeout: an empty 200 and the client polls again.
            self->answer(std::exchange(self->pending_, nullptr), bhttp::status::ok, {},
                         "text/plain");
            self->arm_timer(self->options_.disconnect_timeout);
        } else {
            self->end();  // no poll within the disconnect timeout: the client is gone
        }
    });
}

void long_polling_transport::end() {
    if (ended_) {
        return;
    }
    ended_ = true;
    timer_.cancel();
    if (pending_) {
        answer(std::exchange(pending_, nullptr), bhttp::status::no_content, {}, "text/plain");
    }
    auto self = shared_from_this();  // the connection owns us; stay alive until we return
    connection_->on_transport_ended();
}

}  // namespace switchboard::transport
