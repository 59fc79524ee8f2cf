#include "client/peer_client.hpp"

#include "client/source_socket.hpp"

#include <boost/asio/socket_base.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>

namespace switchboard::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::optional<socketio_packet> parse_socketio_packet(std::string_view text) noexcept {
    if (text.empty() || text[0] < '0' || text[0] > '6') {
        return std::nullopt;
    }
    socketio_packet packet;
    packet.type = text[0];
    text.remove_prefix(1);
    // A namespace other than "/" comes first as "/name,"; the generator only uses "/".
    if (!text.empty() && text[0] == '/') {
        const auto comma = text.find(',');
        if (comma == std::string_view::npos) {
            return std::nullopt;
        }
        text.remove_prefix(comma + 1);
    }
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    if (digits > 0) {
        std::uint64_t id = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, id);
        if (ec != std::errc() || end != text.data() + digits) {
            return std::nullopt;
        }
        packet.id = id;
        text.remove_prefix(digits);
    }
    packet.data = text;
    return packet;
}

std::optional<std::string_view> socketio_last_string(std::string_view data) noexcept {
    // `[..., "text"]`: the closing quote sits just before the closing bracket.
    if (data.size() < 4 || data.back() != ']' || data[data.size() - 2] != '"') {
        return std::nullopt;
    }
    const auto end = data.size() - 2;
    const auto open = data.rfind('"', end - 1);
    if (open == std::string_view::npos || open == 0 ||
        data.find('\\', open) != std::string_view::npos) {
        return std::nullopt;
    }
    // The opening quote must start an array element, or it was inside the string.
    const char before = data[open - 1];
    if (before != ',' && before != '[') {
        return std::nullopt;
    }
    return data.substr(open + 1, end - open - 1);
}

peer_client::peer_client(asio::any_io_executor executor) : ws_(std::move(executor)) {}

void peer_client::start(peer_connect_options options, open_handler handler) {
    options_ = std::move(options);
    on_open_ = std::move(handler);
    state_ = state::connecting;
    ws_.start(websocket_options_of(options_), *this, shared_from_this());
}

void peer_client::on_ws_open() {
    state_ = state::handshaking;
    if (!options_.engine_io) {
        // A Nchan subscriber is subscribed once upgraded; nothing else to wait for.
        opened();
    }
}

void peer_client::opened() {
    state_ = state::open;
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(expected<void>());
    }
}

bool peer_client::on_ws_message(std::string_view payload, bool /*text*/) {
    if (options_.engine_io) {
        return handle_engine_io(payload);
    }
    if (state_ == state::open && on_message_) {
        on_message_(payload);
    }
    return state_ != state::closed;
}

// engine.io v4 over WebSocket: one packet per frame; '0' open, '1' close, '2' ping (answered
// with '3'), '4' message (a Socket.IO packet), '6' noop.
bool peer_client::handle_engine_io(std::string_view frame) {
    if (frame.empty()) {
        fail("engine.io: empty packet");
        return false;
    }
    switch (frame[0]) {
    case '0':
        if (state_ == state::handshaking) {
            std::string packet = "4";
            packet.append(options_.socketio_connect);
            ws_.send(ws_opcode::text, packet);
        }
        return true;
    case '1':
        fail("engine.io: closed by the server");
        return false;
    case '2':
        ws_.send(ws_opcode::text, "3");
        return true;
    case '4': {
        const auto packet = frame.substr(1);
        if (state_ == state::handshaking) {
            if (!packet.empty() && packet[0] == '0') {
                opened();
            } else {
                fail("socket.io: connect refused: " + std::string(packet));
                return false;
            }
        } else if (!packet.empty() && packet[0] == '1') {
            fail("socket.io: disconnected by the server");
            return false;
        } else if (on_message_) {
            on_message_(packet);
        }
        return state_ != state::closed;
    }
    default:
        return true;
    }
}

void peer_client::send(std::string_view text) {
    if (state_ != state::open) {
        return;
    }
    if (!options_.engine_io) {
        return ws_.send(ws_opcode::text, text);
    }
    // Each engine.io packet is its own WebSocket message; several may share one write.
    std::string packet;
    packet.reserve(text.size() + 1);
    packet += '4';
    packet.append(text);
    ws_.send(ws_opcode::text, packet);
}

void peer_client::close() {
    if (state_ != state::closed) {
        fail("closed by the client");
    }
}

void peer_client::fail(const std::string& reason) {
    if (state_ == state::closed) {
        return;
    }
    const bool was_open = state_ == state::open;
    state_ = state::closed;
    ws_.close();
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(make_error(reason));
    }
    if (was_open && on_close_) {
        on_close_(reason);
    }
}

http_publisher::http_publisher(asio::any_io_executor executor) : stream_(std::move(executor)) {}

void http_publisher::start(asio::ip::tcp::endpoint server, std::string host, open_handler handler) {
    server_ = server;
    host_ = std::move(host);
    on_open_ = std::move(handler);
    stream_.expires_after(std::chrono::seconds(30));
    stream_.async_connect(server, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
            return self->fail("publisher connect: " + ec.message());
        }
        beast::error_code ignored;
        self->stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        self->stream_.expires_never();
        self->open_ = true;
        if (auto h = std::exchange(self->on_open_, nullptr)) {
            h(expected<void>());
        }
        self->do_write();
    });
}

void http_publisher::post(std::string target, std::string body) {
    if (!open_) {
        return;
    }
    pending_.emplace_back(std::move(target), std::move(body));
    do_write();
}

void http_publisher::do_write() {
    if (!open_ || in_flight_ || pending_.empty()) {
        return;
    }
    in_flight_ = true;
    auto [target, body] = std::move(pending_.front());
    pending_.pop_front();
    request_ = {};
    request_.method(http::verb::post);
    request_.target(target);
    request_.version(11);
    request_.set(http::field::host, host_);
    request_.set(http::field::content_type, content_type_);
    if (!authorization_.empty()) {
        request_.set(http::field::authorization, authorization_);
    }
    request_.keep_alive(true);
    request_.body() = std::move(body);
    request_.prepare_payload();
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                          self->on_write(ec, bytes);
                      });
}

void http_publisher::on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
        return fail("publish: " + ec.message());
    }
    response_ = {};
    http::async_read(stream_, buffer_, response_,
                     [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
                         self->on_read(error, bytes);
                     });
}

void http_publisher::on_read(beast::error_code ec, std::size_t /*bytes*/) {
    in_flight_ = false;
    if (ec) {
        return fail("publish: " + ec.message());
    }
    if (response_.result_int() / 100 != 2) {
        ++rejected_;
    }
    if (!response_.keep_alive()) {
        return do_reconnect();
    }
    do_write();
}

// nginx ends a keep-alive connection after keepalive_requests (1,000 by default): a long run
// goes on over a new one. Queued messages wait; in_flight_ holds new writes back meanwhile.
void http_publisher::do_reconnect() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    in_flight_ = true;
    stream_.expires_after(std::chrono::seconds(30));
    stream_.async_connect(server_, [self = shared_from_this()](beast::error_code ec) {
        self->in_flight_ = false;
        if (ec) {
            return self->fail("publisher reconnect: " + ec.message());
        }
        beast::error_code ignored_error;
        self->stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored_error);
        self->stream_.expires_never();
        self->do_write();
    });
}

void http_publisher::close() {
    if (open_ || on_open_) {
        fail("closed by the client");
    }
}

void http_publisher::fail(const std::string& reason) {
    const bool was_open = open_;
    open_ = false;
    pending_.clear();
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(make_error(reason));
    }
    if (was_open && on_close_) {
        on_close_(reason);
    }
}

}  // namespace switchboard::client
