#include "loadgen/sse_subscriber.hpp"

#include "client/source_socket.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <utility>

namespace switchboard::loadgen {

namespace asio = boost::asio;

sse_subscriber::sse_subscriber(asio::any_io_executor executor)
    : socket_(executor), timer_(std::move(executor)) {}

void sse_subscriber::start(options options, open_handler handler) {
    on_open_ = std::move(handler);
    state_ = state::connecting;
    request_ = "GET ";
    request_.append(options.target)
        .append(" HTTP/1.1\r\nHost: ")
        .append(options.host)
        .append("\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
    if (const auto ec = client::open_socket(socket_, options.server, options.source)) {
        // Through the executor: the caller's handler must not run inside start().
        asio::post(socket_.get_executor(),
                   [self = shared_from_this(), ec] { self->fail("socket: " + ec.message()); });
        return;
    }
    timer_.expires_after(options.connect_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && self->state_ == state::connecting) {
            self->fail("no response within the connect timeout");
        }
    });
    socket_.async_connect(
        options.server,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->on_connect(ec); });
}

void sse_subscriber::on_connect(const boost::system::error_code& ec) {
    if (state_ != state::connecting) {
        return;
    }
    if (ec) {
        return fail("connect: " + ec.message());
    }
    // The request is tiny: it fits the socket buffer, so the head is read right after.
    asio::async_write(
        socket_, asio::buffer(request_),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
            if (error) {
                return self->fail("request: " + error.message());
            }
            std::string().swap(self->request_);
        });
    do_read();
}

void sse_subscriber::do_read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t bytes) {
            self->on_read(ec, bytes);
        });
}

void sse_subscriber::on_read(const boost::system::error_code& ec, std::size_t bytes) {
    if (state_ == state::closed) {
        return;
    }
    if (ec) {
        return fail(ec == asio::error::eof ? std::string("closed by the server")
                                           : "read: " + ec.message());
    }
    const auto ok =
        reader_.feed(std::string_view(buffer_.data(), bytes), [this](std::string_view data) {
            if (on_event_) {
                on_event_(data);
            }
        });
    if (!ok) {
        return fail(reader_.error());
    }
    if (state_ == state::connecting && reader_.open()) {
        state_ = state::open;
        timer_.cancel();
        if (auto handler = std::exchange(on_open_, nullptr)) {
            handler(expected<void>());
        }
    }
    if (state_ != state::closed) {
        do_read();
    }
}

void sse_subscriber::close() {
    if (state_ != state::closed) {
        fail("closed by the client");
    }
}

void sse_subscriber::fail(const std::string& reason) {
    if (state_ == state::closed) {
        return;
    }
    const bool was_open = state_ == state::open;
    state_ = state::closed;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(make_error(reason));
    }
    if (was_open && on_close_) {
        on_close_(reason);
    }
}

}  // namespace switchboard::loadgen
