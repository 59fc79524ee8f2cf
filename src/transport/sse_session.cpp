#include "transport/sse_session.hpp"

#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

namespace switchboard::transport {

namespace beast = boost::beast;
namespace asio = boost::asio;

namespace {
constexpr std::string_view data_prefix = "data: ";
constexpr std::string_view event_end = "\r\n\r\n";
}  // namespace

void append_sse_event(std::string_view payload, std::string& out) {
    std::size_t start = 0;
    while (true) {
        const auto newline = payload.find('\n', start);
        auto line = payload.substr(
            start, newline == std::string_view::npos ? std::string_view::npos : newline - start);
        if (newline != std::string_view::npos && line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        out += data_prefix;
        out += line;
        out += "\r\n";
        if (newline == std::string_view::npos) {
            break;
        }
        start = newline + 1;
    }
    out += "\r\n";
}

sse_session::sse_session(http::stream stream, connection_ptr connection)
    : stream_(std::move(stream)), connection_(std::move(connection)) {}

sse_session::~sse_session() {
    finish();
}

void sse_session::run(std::string response_head) {
    // The `:` comment reaches the client at once: some browsers fire `open` only on data.
    framed_ = std::move(response_head);
    framed_ += ":\r\n";
    write_in_flight_ = true;
    asio::async_write(stream_, asio::buffer(framed_),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          self->started_ = true;
                          self->connection_->attach_writer(self.get());
                          self->on_write(ec);
                      });
    do_watch();
}

void sse_session::do_watch() {
    // Reading only detects the client going away (EOF or reset); any bytes are discarded.
    stream_.async_read_some(asio::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                if (ec) {
                                    return self->finish();
                                }
                                self->do_watch();
                            });
}

void sse_session::on_output_ready() {
    if (started_ && !write_in_flight_ && !ended_) {
        do_write();
    }
}

void sse_session::on_close_requested() {
    on_output_ready();
}

void sse_session::on_abort(std::uint16_t, std::string_view) {
    // SSE has no close reason to carry: ending the response is all a client can see.
    ended_ = true;
    if (!write_in_flight_) {
        shutdown();
    }
}

void sse_session::do_write() {
    writing_.clear();
    connection_->take_output(writing_);
    if (writing_.empty()) {
        if (connection_->close_requested()) {
            ended_ = true;
            shutdown();
        }
        return;
    }
    const bool has_newline = std::any_of(writing_.begin(), writing_.end(), [](const auto& b) {
        return std::memchr(b->data(), '\n', b->size()) != nullptr;
    });
    write_buffers_.clear();
    if (has_newline) {
        std::string payload;
        for (const auto& buffer : writing_) {
            payload += *buffer;
        }
        framed_.clear();
        append_sse_event(payload, framed_);
        write_buffers_.emplace_back(framed_.data(), framed_.size());
    } else {
        // The common case: no copy, the shared message bytes go out between prefix and suffix.
        write_buffers_.emplace_back(data_prefix.data(), data_prefix.size());
        for (const auto& buffer : writing_) {
            write_buffers_.emplace_back(buffer->data(), buffer->size());
        }
        write_buffers_.emplace_back(event_end.data(), event_end.size());
    }
    write_in_flight_ = true;
    asio::async_write(
        stream_, write_buffers_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void sse_session::on_write(beast::error_code ec) {
    write_in_flight_ = false;
    writing_.clear();
    if (ec) {
        return finish();
    }
    if (ended_) {
        return shutdown();
    }
    do_write();
}

void sse_session::shutdown() {
    beast::error_code ignored;
    // The response has no length: ending the stream is how it ends. Over TLS too the TCP
    // socket just closes (no close_notify): the client has had the hub's Close message, and a
    // TLS shutdown would have to wait behind the pending read that watches for the client.
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    finish();
}

void sse_session::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    ended_ = true;
    connection_->detach_writer(this);
    connection_->on_transport_ended();
}

}  // namespace switchboard::transport
