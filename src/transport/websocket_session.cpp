#include "transport/websocket_session.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace switchboard::transport {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {
// Reads take at most this much per call; a hub message larger than the limit is rejected by
// the hub layer, so reading in slices bounds memory per connection whatever the client sends.
constexpr std::size_t read_slice = 4096;
// ASP.NET's WebSocketOptions.CloseTimeout: how long a peer may take to answer our close.
constexpr auto close_timeout = std::chrono::seconds(5);
// A WebSocket close reason must fit a control frame (125 bytes minus the 2-byte code).
constexpr std::size_t max_close_reason = 123;
}  // namespace

websocket_session::websocket_session(http::stream stream, connection_ptr connection)
    : ws_(std::move(stream)), connection_(std::move(connection)) {}

websocket_session::~websocket_session() {
    finish();
}

void websocket_session::run(http::request upgrade_request) {
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = close_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();  // the hub layer owns liveness
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "switchboard"); }));
    // Incoming bytes are a stream cut into slices; whole WebSocket messages are never needed.
    ws_.auto_fragment(false);
    ws_.async_accept(upgrade_request,
                     beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
}

void websocket_session::on_accept(beast::error_code ec) {
    if (ec) {
        return finish();
    }
    accepted_ = true;
    if (resuming_) {
        if (!connection_->resume(this)) {
            // The connection ended meanwhile; the client will start a new one.
            replaced_ = true;
            return do_close(static_cast<std::uint16_t>(websocket::close_code::normal), {});
        }
    } else {
        connection_->attach_writer(this);
    }
    do_read();
}

void websocket_session::do_read() {
    ws_.async_read_some(read_buffer_, read_slice,
                        beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
}

void websocket_session::on_read(beast::error_code ec, std::size_t bytes) {
    if (ec) {
        graceful_ = ec == websocket::error::closed || close_started_;
        return finish();
    }
    if (bytes > 0 && !connection_->closing()) {
        const auto data = read_buffer_.cdata();
        connection_->deliver(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    read_buffer_.consume(read_buffer_.size());
    do_read();
}

void websocket_session::on_output_ready() {
    if (accepted_ && !write_in_flight_ && !close_started_ && !aborting_) {
        do_write();
    }
}

void websocket_session::on_close_requested() {
    if (accepted_ && !write_in_flight_ && !close_started_ && !aborting_) {
        do_write();
    }
}

void websocket_session::on_abort(std::uint16_t websocket_code, std::string_view reason) {
    if (aborting_ || close_started_) {
        return;
    }
    aborting_ = true;
    abort_code_ = websocket_code;
    abort_reason_ = std::string(reason.substr(0, max_close_reason));
    if (!accepted_) {
        return;
    }
    if (!write_in_flight_) {
        return do_close(abort_code_, abort_reason_);
    }
    // A slow consumer's write may never finish: give it the close timeout, then drop it.
    abort_timer_ = std::make_unique<boost::asio::steady_timer>(ws_.get_executor(), close_timeout);
    abort_timer_->async_wait([self = shared_from_this()](beast::error_code timer_ec) {
        if (!timer_ec) {
            beast::error_code ignored;
            beast::get_lowest_layer(self->ws_).socket().close(ignored);
        }
    });
}

void websocket_session::do_write() {
    connection_->take_output(writing_);
    if (writing_.empty()) {
        if (connection_->close_requested()) {
            do_close(static_cast<std::uint16_t>(websocket::close_code::normal), {});
        }
        return;
    }
    write_buffers_.clear();
    write_buffers_.reserve(writing_.size());
    for (const auto& buffer : writing_) {
        write_buffers_.emplace_back(buffer->data(), buffer->size());
    }
    // Frame type follows the negotiated hub protocol: the JS client rejects JSON in Binary.
    ws_.text(connection_->format() == transfer_format::text);
    write_in_flight_ = true;
    ws_.async_write(write_buffers_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_write(ec);
    });
}

void websocket_session::on_write(beast::error_code ec) {
    write_in_flight_ = false;
    writing_.clear();
    if (ec) {
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        return;  // the pending read fails next and finishes the session
    }
    if (aborting_) {
        return do_close(abort_code_, abort_reason_);
    }
    do_write();
}

void websocket_session::do_close(std::uint16_t code, std::string reason) {
    if (close_started_) {
        return;
    }
    close_started_ = true;
    websocket::close_reason close{static_cast<websocket::close_code>(code),
                                  beast::string_view(reason)};
    ws_.async_close(close, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
            beast::error_code ignored;
            beast::get_lowest_layer(self->ws_).socket().close(ignored);
        }
        // On success the pending read completes with websocket::error::closed.
    });
}

void websocket_session::on_terminate() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);  // pending operations end now
}

void websocket_session::on_replaced() {
    replaced_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
}

void websocket_session::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (replaced_) {
        return;  // the connection lives on with another socket
    }
    if (abort_timer_) {
        abort_timer_->cancel();
    }
    connection_->detach_writer(this);
    // A dropped socket (no close frame) leaves a stateful connection waiting for its client
    // to reconnect; anything else ends the connection.
    if (!graceful_ && connection_->stateful()) {
        connection_->on_transport_lost();
    } else {
        connection_->on_transport_ended();
    }
}

}  // namespace switchboard::transport
