#include "client/websocket_connection.hpp"

#include "client/source_socket.hpp"
#include "core/ascii.hpp"
#include "core/base64.hpp"

#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <span>
#include <vector>

namespace switchboard::client {

namespace asio = boost::asio;

namespace {
constexpr std::size_t max_control_payload = 125;
// A 101 head is a few hundred bytes; anything this long is not a WebSocket server.
constexpr std::size_t max_head_size = 16 * 1024;
// Strings that grew past this for one large message are released rather than kept per idle
// connection.
constexpr std::size_t kept_capacity = 4 * 1024;

enum class head_status : unsigned char { complete, incomplete, invalid };

struct frame_head {
    ws_opcode op = ws_opcode::continuation;
    bool fin = false;
    std::size_t size = 0;      // header bytes
    std::uint64_t length = 0;  // payload bytes
    std::string_view error;    // why the head is invalid
};

// Reads a server frame's header from the start of `data`, validating it as soon as its first
// two bytes are there; on incomplete, `head.size` is how many header bytes are needed so far.
head_status read_head(std::string_view data, std::size_t max_message_size, frame_head& head) {
    head.size = 2;
    if (data.size() < 2) {
        return head_status::incomplete;
    }
    const auto first = static_cast<std::uint8_t>(data[0]);
    const auto second = static_cast<std::uint8_t>(data[1]);
    head.fin = (first & 0x80) != 0;
    if ((first & 0x70) != 0) {
        head.error = "reserved bits set in a server frame (no extension negotiated)";
        return head_status::invalid;
    }
    const auto code = static_cast<std::uint8_t>(first & 0x0f);
    if (code > 0x2 && (code < 0x8 || code > 0xa)) {
        head.error = "unknown opcode in a server frame";
        return head_status::invalid;
    }
    head.op = static_cast<ws_opcode>(code);
    if ((second & 0x80) != 0) {
        head.error = "masked server frame";
        return head_status::invalid;
    }
    head.length = second & 0x7f;
    const bool control = (code & 0x8) != 0;
    if (control && (!head.fin || head.length > max_control_payload)) {
        head.error = "fragmented or oversized control frame";
        return head_status::invalid;
    }
    if (head.length == 126) {
        head.size = 4;
    } else if (head.length == 127) {
        head.size = 10;
    }
    if (data.size() < head.size) {
        return head_status::incomplete;
    }
    if (head.size > 2) {
        head.length = 0;
        for (std::size_t i = 2; i < head.size; ++i) {
            head.length = (head.length << 8) | static_cast<std::uint8_t>(data[i]);
        }
    }
    if (head.length > max_message_size) {
        head.error = "the server sent a message over the size limit";
        return head_status::invalid;
    }
    return head_status::complete;
}

// The buffer every connection of a thread reads into; parsing finishes before the next read.
std::span<char> read_buffer() {
    thread_local std::vector<char> buffer(std::size_t{64} * 1024);
    return buffer;
}

void release_if_large(std::string& s) {
    if (s.capacity() > kept_capacity) {
        std::string().swap(s);
    } else {
        s.clear();
    }
}

std::string make_key() {
    thread_local std::mt19937_64 random{std::random_device{}()};
    std::array<char, 16> nonce{};
    for (std::size_t i = 0; i < nonce.size(); i += 8) {
        const auto bits = random();
        for (std::size_t k = 0; k < 8; ++k) {
            nonce[i + k] = static_cast<char>(bits >> (8 * k));
        }
    }
    std::string key;
    append_base64(std::string_view(nonce.data(), nonce.size()), key);
    return key;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// Whether a comma-separated header value lists `token` (Connection: keep-alive, Upgrade).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        if (ascii_iequals(trim(value.substr(0, comma)), token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
    return false;
}
}  // namespace

void append_client_frame(ws_opcode op, std::string_view payload, std::string& out) {
    transport::websocket::frame_header header{};
    const auto size = transport::websocket::write_frame_header(op, payload.size(), header);
    header[1] = static_cast<char>(header[1] | 0x80);  // masked, by the all-zero key below
    out.reserve(out.size() + size + 4 + payload.size());
    out.append(header.data(), size);
    out.append(4, '\0');
    out.append(payload);
}

std::optional<std::string_view> server_frame_reader::fail(std::string_view reason) {
    done_ = true;
    release_if_large(tail_);
    release_if_large(message_);
    return reason;
}

std::optional<std::string_view> server_frame_reader::feed(std::string_view input, handler& events) {
    frame_head head;
    // First the frame an earlier read left unfinished: just enough input to finish it.
    while (!tail_.empty() && !input.empty() && !done_) {
        const auto status = read_head(tail_, max_message_size_, head);
        if (status == head_status::invalid) {
            return fail(head.error);
        }
        const std::size_t needed =
            status == head_status::complete ? head.size + head.length : head.size;
        const auto take = std::min(needed - tail_.size(), input.size());
        tail_.append(input.data(), take);
        input.remove_prefix(take);
        if (status == head_status::complete && tail_.size() == needed) {
            const bool go_on =
                on_frame(head.op, head.fin, std::string_view(tail_).substr(head.size), events);
            release_if_large(tail_);
            if (!go_on) {
                return error_ ? fail(*error_) : std::nullopt;
            }
        }
    }
    // Then every whole frame of the input, in place.
    while (!input.empty() && !done_) {
        const auto status = read_head(input, max_message_size_, head);
        if (status == head_status::invalid) {
            return fail(head.error);
        }
        if (status == head_status::incomplete || input.size() - head.size < head.length) {
            tail_.assign(input);
            return std::nullopt;
        }
        const auto payload = input.substr(head.size, static_cast<std::size_t>(head.length));
        input.remove_prefix(head.size + payload.size());
        if (!on_frame(head.op, head.fin, payload, events)) {
            return error_ ? fail(*error_) : std::nullopt;
        }
    }
    return std::nullopt;
}

bool server_frame_reader::on_frame(ws_opcode op, bool fin, std::string_view payload,
                                   handler& events) {
    switch (op) {
    case ws_opcode::ping:
        events.on_ping(payload);
        return true;
    case ws_opcode::pong:
        return true;
    case ws_opcode::close: {
        done_ = true;
        if (payload.size() == 1) {
            error_ = "Close frame with a 1-byte payload";
            return false;
        }
        std::uint16_t code = 0;
        if (payload.size() >= 2) {
            code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                              static_cast<std::uint8_t>(payload[1]));
            payload.remove_prefix(2);
        }
        events.on_close(code, payload);
        return false;
    }
    case ws_opcode::text:
    case ws_opcode::binary:
        if (in_message_) {
            done_ = true;
            error_ = "new message inside a fragmented message";
            return false;
        }
        if (fin) {
            return events.on_message(payload, op == ws_opcode::text);
        }
        in_message_ = true;
        message_text_ = op == ws_opcode::text;
        message_.assign(payload);
        return true;
    case ws_opcode::continuation:
        break;
    }
    if (!in_message_) {
        done_ = true;
        error_ = "continuation frame outside a message";
        return false;
    }
    if (message_.size() + payload.size() > max_message_size_) {
        done_ = true;
        error_ = "the server sent a message over the size limit";
        return false;
    }
    message_.append(payload);
    if (!fin) {
        return true;
    }
    in_message_ = false;
    const bool go_on = events.on_message(message_, message_text_);
    release_if_large(message_);
    return go_on;
}

handshake_response parse_handshake_response(std::string_view bytes,
                                            std::string_view expected_accept) {
    handshake_response response;
    const auto end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        return response;
    }
    response.head_size = end + 4;
    auto head = bytes.substr(0, end + 2);  // each line, the last included, ends in CRLF
    const auto line_end = head.find("\r\n");
    const auto status_line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    response.result = handshake_response::status::refused;
    // "HTTP/1.1 101 Switching Protocols"
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" ||
        status_line.substr(8, 4) != " 101") {
        response.error = "the server answered ";
        response.error.append(status_line);
        return response;
    }
    bool upgrade = false;
    bool connection = false;
    bool accepted = false;
    while (!head.empty()) {
        const auto eol = head.find("\r\n");
        const auto line = head.substr(0, eol);
        head.remove_prefix(eol + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const auto name = line.substr(0, colon);
        const auto value = trim(line.substr(colon + 1));
        if (ascii_iequals(name, "upgrade")) {
            upgrade = has_token(value, "websocket");
        } else if (ascii_iequals(name, "connection")) {
            connection = has_token(value, "upgrade");
        } else if (ascii_iequals(name, "sec-websocket-accept")) {
            accepted = value == expected_accept;
        }
    }
    if (!upgrade || !connection) {
        response.error = "the 101 lacks Upgrade: websocket or Connection: Upgrade";
    } else if (!accepted) {
        response.error = "wrong or missing Sec-WebSocket-Accept";
    } else {
        response.result = handshake_response::status::accepted;
    }
    return response;
}

websocket_connection::websocket_connection(asio::any_io_executor executor)
    : socket_(std::move(executor)), reader_(0) {}

void websocket_connection::start(websocket_options options, websocket_listener& listener,
                                 const std::shared_ptr<void>& owner) {
    owner_ = owner;
    listener_ = &listener;
    reader_ = server_frame_reader(options.max_message_size);
    state_ = state::connecting;
    if (const auto ec = open_socket(socket_, options.server, options.source)) {
        return fail("connect: " + ec.message());
    }
    deadline_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    deadline_->expires_after(options.connect_timeout);
    deadline_->async_wait([this, keep = owner](const boost::system::error_code& ec) {
        if (!ec && (state_ == state::connecting || state_ == state::upgrading)) {
            fail(state_ == state::connecting ? "connect: timed out" : "upgrade: timed out");
        }
    });
    const auto key = make_key();
    accept_ = transport::websocket::accept_key(key).value_or(std::string());
    auto& request = writing_;
    request.append("GET ").append(options.target).append(" HTTP/1.1\r\nHost: ");
    request.append(options.host);
    request.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    request.append(key);
    request.append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
    socket_.async_connect(
        options.server,
        [this, keep = owner](const boost::system::error_code& ec) { on_connect(ec); });
}

void websocket_connection::on_connect(const boost::system::error_code& ec) {
    if (state_ != state::connecting) {
        return;
    }
    if (ec) {
        return fail("connect: " + ec.message());
    }
    boost::system::error_code ignored;
    // Small frames leave at once: latency is what the generator measures.
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    // Reads happen after a readiness wait; a spurious wake-up must not block the thread.
    socket_.non_blocking(true, ignored);
    state_ = state::upgrading;
    write_in_flight_ = true;
    asio::async_write(socket_, asio::buffer(writing_),
                      [this, keep = owner_.lock()](const boost::system::error_code& error,
                                                   std::size_t /*bytes*/) {
                          write_in_flight_ = false;
                          release_if_large(writing_);
                          if (state_ == state::closed) {
                              return;
                          }
                          if (error) {
                              return fail("upgrade: " + error.message());
                          }
                          do_write();
                      });
    wait_readable();
}

void websocket_connection::wait_readable() {
    socket_.async_wait(
        asio::ip::tcp::socket::wait_read,
        [this, keep = owner_.lock()](const boost::system::error_code& ec) { on_readable(ec); });
}

void websocket_connection::on_readable(const boost::system::error_code& ec) {
    if (state_ == state::closed) {
        return;
    }
    if (ec) {
        return fail("read: " + ec.message());
    }
    // One read per wake-up, even when it fills the buffer: Asio re-arms every readiness wait
    // with EPOLL_CTL_MOD, so data still queued wakes us again at once.
    const auto buffer = read_buffer();
    boost::system::error_code error;
    const auto size = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), error);
    if (error == asio::error::would_block || error == asio::error::try_again) {
        return wait_readable();
    }
    if (error) {
        return fail(error == asio::error::eof
                        ? std::string("read: the server closed the connection")
                        : "read: " + error.message());
    }
    const std::string_view bytes(buffer.data(), size);
    if (state_ == state::upgrading) {
        on_head(bytes);
    } else {
        on_frames(bytes);
    }
    if (state_ != state::closed) {
        wait_readable();
    }
}

void websocket_connection::on_head(std::string_view bytes) {
    head_.append(bytes);
    const auto response = parse_handshake_response(head_, accept_);
    if (response.result == handshake_response::status::incomplete) {
        if (head_.size() > max_head_size) {
            fail("upgrade: response head too large");
        }
        return;
    }
    if (response.result == handshake_response::status::refused) {
        return fail("upgrade: " + response.error);
    }
    // The bytes after the head are the first frames (Socket.IO sends its open packet with the
    // 101); they move out of head_ so the connection keeps no handshake buffers.
    std::string frames = head_.substr(response.head_size);
    std::string().swap(head_);
    std::string().swap(accept_);
    deadline_.reset();
    state_ = state::open;
    listener_->on_ws_open();
    if (state_ == state::open && !frames.empty()) {
        on_frames(frames);
    }
}

void websocket_connection::on_frames(std::string_view bytes) {
    if (const auto error = reader_.feed(bytes, *this)) {
        fail(std::string(*error));
    }
}

bool websocket_connection::on_message(std::string_view payload, bool text) {
    return state_ == state::open && listener_->on_ws_message(payload, text) &&
           state_ == state::open;
}

void websocket_connection::on_ping(std::string_view payload) {
    send(ws_opcode::pong, payload);
}

void websocket_connection::on_close(std::uint16_t code, std::string_view reason) {
    // Echo the Close as RFC 6455 asks, best effort: the connection ends either way.
    std::string frame;
    std::string echo;
    if (code != 0) {
        echo.push_back(static_cast<char>(code >> 8));
        echo.push_back(static_cast<char>(code));
    }
    append_client_frame(ws_opcode::close, echo, frame);
    boost::system::error_code ignored;
    socket_.write_some(asio::buffer(frame), ignored);
    std::string message = "closed by the server: ";
    message.append(std::to_string(code));
    if (!reason.empty()) {
        message.append(" ").append(reason);
    }
    fail(message);
}

void websocket_connection::send(ws_opcode op, std::string_view payload) {
    if (state_ != state::open) {
        return;
    }
    append_client_frame(op, payload, queued_);
    do_write();
}

void websocket_connection::do_write() {
    if (write_in_flight_ || state_ != state::open) {
        return;
    }
    if (queued_.empty()) {
        listener_->on_ws_drained();
        return;
    }
    write_in_flight_ = true;
    writing_.clear();
    std::swap(writing_, queued_);
    asio::async_write(
        socket_, asio::buffer(writing_),
        [this, keep = owner_.lock()](const boost::system::error_code& ec, std::size_t /*bytes*/) {
            write_in_flight_ = false;
            if (state_ == state::closed) {
                return;
            }
            if (ec) {
                return fail("write: " + ec.message());
            }
            release_if_large(writing_);
            do_write();
        });
}

void websocket_connection::close() {
    if (state_ == state::closed) {
        return;
    }
    state_ = state::closed;
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.reset();
    std::string().swap(queued_);
    std::string().swap(head_);
}

void websocket_connection::fail(const std::string& reason) {
    if (state_ == state::closed) {
        return;
    }
    // Keeps the owner (and so this connection) alive through the report.
    const auto keep = owner_.lock();
    close();
    if (listener_ != nullptr) {
        listener_->on_ws_error(reason);
    }
}

}  // namespace switchboard::client
