#include "transport/websocket_session.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <array>

namespace switchboard::transport {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {
// ASP.NET's WebSocketOptions.CloseTimeout: how long a peer may take to answer our Close, and a
// slow consumer's last write may take before the socket is dropped.
constexpr auto close_timeout = std::chrono::seconds(5);
// TLS reads complete asynchronously into a buffer of their own; hub messages larger than this
// arrive over several reads (the hub layer reassembles them and enforces its size limit).
constexpr std::size_t tls_read_size = 4096;

// Every plain socket of a shard reads into this buffer once it is readable: the read and the
// parsing of what it returned finish before any other handler of the shard runs. 64 KiB takes
// a full burst of the socket's receive queue in one call.
std::span<char> shard_read_buffer() {
    thread_local std::array<char, 65536> buffer;
    return buffer;
}
}  // namespace

std::optional<http::response> refuse_websocket_upgrade(const http::request& req) {
    if (req.version() < 11) {
        return http::make_text_response(req, bhttp::status::bad_request,
                                        "A WebSocket upgrade needs HTTP/1.1");
    }
    if (req[bhttp::field::sec_websocket_version] != "13") {
        auto res = http::make_text_response(req, bhttp::status::upgrade_required,
                                            "Unsupported Sec-WebSocket-Version");
        res.set(bhttp::field::sec_websocket_version, "13");
        return res;
    }
    if (!websocket::accept_key(req[bhttp::field::sec_websocket_key])) {
        return http::make_text_response(req, bhttp::status::bad_request,
                                        "Missing or invalid Sec-WebSocket-Key");
    }
    return std::nullopt;
}

websocket_session::websocket_session(http::stream stream, connection_ptr connection)
    : socket_(stream.get_executor()), connection_(std::move(connection)) {
    if (stream.is_tls()) {
        tls_ = std::make_unique<http::stream>(std::move(stream));
    } else {
        socket_ = stream.next_layer().release_socket();
    }
}

websocket_session::~websocket_session() {
    finish();
}

template <class Buffers, class Handler>
void websocket_session::async_write(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
        boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
        boost::asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }
}

void websocket_session::run(const http::request& upgrade_request) {
    const auto accept = websocket::accept_key(upgrade_request[bhttp::field::sec_websocket_key]);
    error_code ec;
    if (!tls_) {
        // Reads are non-blocking calls made once the socket is readable.
        socket_.non_blocking(true, ec);
    }
    if (!accept || ec) {
        close_socket();
        return finish();
    }
    control_writing_ =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nServer: switchboard\r\nSec-WebSocket-Accept: ";
    control_writing_.append(*accept).append("\r\n\r\n");
    write_in_flight_ = true;
    async_write(boost::asio::buffer(control_writing_),
                [self = shared_from_this()](error_code write_ec, std::size_t) {
                    self->on_handshake_written(write_ec);
                });
}

void websocket_session::on_handshake_written(error_code ec) {
    write_in_flight_ = false;
    std::string().swap(control_writing_);  // idle connections keep no capacity
    if (ec) {
        close_socket();
        return finish();
    }
    accepted_ = true;
    if (resuming_) {
        if (!connection_->resume(this)) {
            // The connection ended meanwhile; the client will start a new one.
            replaced_ = true;
            do_close(websocket::close_code::normal, {});
        }
    } else {
        connection_->attach_writer(this);
    }
    do_read();
}

void websocket_session::do_read() {
    if (tls_) {
        if (!tls_read_buffer_) {
            tls_read_buffer_ = std::make_unique<char[]>(tls_read_size);
        }
        return tls_->async_read_some(
            boost::asio::buffer(tls_read_buffer_.get(), tls_read_size),
            boost::beast::bind_front_handler(&websocket_session::on_tls_read, shared_from_this()));
    }
    socket_.async_wait(
        boost::asio::socket_base::wait_read,
        boost::beast::bind_front_handler(&websocket_session::on_readable, shared_from_this()));
}

void websocket_session::on_readable(error_code ec) {
    if (ec) {
        return finish();
    }
    const auto buffer = shard_read_buffer();
    const auto bytes = socket_.read_some(boost::asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
        return do_read();  // a spurious wake-up: nothing to read after all
    }
    if (ec) {
        return finish();  // end of stream or reset
    }
    consume(buffer.first(bytes));
    do_read();
}

void websocket_session::on_tls_read(error_code ec, std::size_t bytes) {
    if (ec) {
        return finish();
    }
    consume(std::span<char>(tls_read_buffer_.get(), bytes));
    do_read();
}

void websocket_session::consume(std::span<char> bytes) {
    if (auto error = parser_.parse(bytes, *this)) {
        // Failing the connection (RFC 6455 7.1.7): say why, then drop the socket.
        close_on_flush_ = true;
        do_close(error->code, error->reason);
    }
}

void websocket_session::on_data(std::string_view bytes) {
    if (!connection_->closing() && !close_sent_) {
        connection_->deliver(bytes);
    }
}

void websocket_session::on_control(websocket::opcode op, std::string_view payload) {
    if (op == websocket::opcode::ping && !close_sent_) {
        // Only the latest Ping needs its Pong (RFC 6455 5.5.3): a Ping flood costs one frame.
        control_out_ = websocket::make_control_frame(websocket::opcode::pong, payload);
        if (accepted_ && !write_in_flight_) {
            do_write();
        }
    } else if (op == websocket::opcode::close) {
        if (close_sent_) {
            if (!write_in_flight_) {
                end_connection();  // our Close is out and answered
            }
            return;
        }
        // Echo the peer's code, then drop the socket once the echo is written.
        std::uint16_t code = websocket::close_code::normal;
        if (payload.size() >= 2) {
            code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                              static_cast<std::uint8_t>(payload[1]));
        }
        close_on_flush_ = true;
        do_close(code, {});
    }
}

void websocket_session::on_output_ready() {
    if (accepted_ && !write_in_flight_) {
        do_write();
    }
}

void websocket_session::on_close_requested() {
    if (accepted_ && !write_in_flight_) {
        do_write();
    }
}

void websocket_session::on_abort(std::uint16_t websocket_code, std::string_view reason) {
    if (aborting_ || close_sent_) {
        return;
    }
    aborting_ = true;
    do_close(websocket_code, reason);
}

void websocket_session::do_write() {
    write_buffers_.clear();
    if (!control_out_.empty()) {
        control_writing_ = std::move(control_out_);
        control_out_.clear();
        write_buffers_.emplace_back(control_writing_.data(), control_writing_.size());
    }
    // Nothing follows our Close; everything queued before it goes out in one data frame.
    if (!close_sent_) {
        connection_->take_output(writing_);
        if (!writing_.empty()) {
            // Frame type follows the negotiated hub protocol: the JS client rejects JSON in
            // Binary frames.
            const auto op = connection_->format() == transfer_format::text
                                ? websocket::opcode::text
                                : websocket::opcode::binary;
            std::size_t first = 0;
            if (!first_frame_written_ && writing_.size() > 1) {
                const auto size =
                    websocket::write_frame_header(op, writing_.front()->size(), first_header_);
                write_buffers_.emplace_back(first_header_.data(), size);
                write_buffers_.emplace_back(writing_.front()->data(), writing_.front()->size());
                first = 1;
            }
            first_frame_written_ = true;
            std::size_t payload_size = 0;
            for (std::size_t i = first; i < writing_.size(); ++i) {
                payload_size += writing_[i]->size();
            }
            const auto header_size = websocket::write_frame_header(op, payload_size, header_);
            write_buffers_.emplace_back(header_.data(), header_size);
            for (std::size_t i = first; i < writing_.size(); ++i) {
                write_buffers_.emplace_back(writing_[i]->data(), writing_[i]->size());
            }
        } else if (write_buffers_.empty() && connection_->close_requested()) {
            return do_close(websocket::close_code::normal, {});
        }
    }
    if (write_buffers_.empty()) {
        return;
    }
    write_in_flight_ = true;
    async_write(write_buffers_,
                [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
}

void websocket_session::on_write(error_code ec) {
    write_in_flight_ = false;
    writing_.clear();
    const bool close_written = close_sent_ && !control_writing_.empty();
    control_writing_.clear();
    if (ec) {
        return close_socket();  // the pending read fails next and finishes the session
    }
    if (close_written && (close_on_flush_ || parser_.close_received())) {
        return end_connection();
    }
    do_write();
}

void websocket_session::do_close(std::uint16_t code, std::string_view reason) {
    if (close_sent_) {
        return;
    }
    close_sent_ = true;
    control_out_ = websocket::make_close_frame(code, reason);
    // A peer that never answers, or a slow consumer whose write never finishes, is dropped.
    close_timer_ =
        std::make_unique<boost::asio::steady_timer>(socket_.get_executor(), close_timeout);
    close_timer_->async_wait([self = shared_from_this()](error_code timer_ec) {
        if (!timer_ec) {
            self->close_socket();
        }
    });
    if (accepted_ && !write_in_flight_) {
        do_write();
    }
}

void websocket_session::end_connection() {
    if (!tls_ || finished_) {
        return close_socket();
    }
    // TLS ends with close_notify before the TCP close, as Beast's WebSocket teardown did; the
    // close timer still drops a peer that never answers it.
    tls_->tls()->async_shutdown([self = shared_from_this()](error_code) { self->close_socket(); });
}

void websocket_session::close_socket() {
    error_code ignored;
    if (tls_) {
        tls_->socket().close(ignored);
    } else {
        socket_.close(ignored);
    }
}

void websocket_session::on_terminate() {
    close_socket();  // pending operations end now
}

void websocket_session::on_replaced() {
    replaced_ = true;
    close_socket();
}

void websocket_session::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    if (close_timer_) {
        close_timer_->cancel();
    }
    close_socket();
    if (replaced_) {
        return;  // the connection lives on with another socket
    }
    connection_->detach_writer(this);
    // A dropped socket (no close handshake) leaves a stateful connection waiting for its client
    // to reconnect; anything else ends the connection.
    if (!close_sent_ && !parser_.close_received() && connection_->stateful()) {
        connection_->on_transport_lost();
    } else {
        connection_->on_transport_ended();
    }
}

}  // namespace switchboard::transport
