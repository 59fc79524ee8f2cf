// Minimal asynchronous clients for the benchmark peers (bench/peers): a WebSocket client speaking
// raw text frames (Nchan subscribers) or engine.io v4 (Socket.IO), and an HTTP keep-alive
// publisher (Nchan's POST /pub/<channel>). Built for load like hub_client: no reconnect.
#pragma once

#include "client/websocket_connection.hpp"
#include "core/expected.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::client {

// One Socket.IO packet carried by an engine.io v4 message packet ("4" + this), e.g.
// `2["broadcast","alice","hi"]` (event), `30[]` (ack of id 0), `0{"sid":"..."}` (connect).
struct socketio_packet {
    char type = 0;                    // '0' connect .. '6' binary ack
    std::optional<std::uint64_t> id;  // ack id, if any
    std::string_view data;            // JSON after the id: an array for events and acks
};

// Parses "<type>[/nsp,][id]<data>"; nothing for text that is no Socket.IO packet.
std::optional<socketio_packet> parse_socketio_packet(std::string_view text) noexcept;

// An event's last argument when it is a JSON string without escapes (the generator's payloads
// are digits and dots), e.g. `["broadcast","alice","0001..."]` -> `0001...`; else nothing.
std::optional<std::string_view> socketio_last_string(std::string_view data) noexcept;

struct peer_connect_options {
    boost::asio::ip::tcp::endpoint server;
    std::optional<boost::asio::ip::address> source;
    std::string host;    // Host header
    std::string target;  // path and query
    bool engine_io = false;
    // Text of the Socket.IO connect packet sent once engine.io opens ("0" = default namespace).
    std::string socketio_connect = "0";
    std::size_t max_message_size = 1024 * 1024;
    std::chrono::milliseconds connect_timeout{30'000};
};

// WebSocket text frames in and out. With engine_io it completes the engine.io and Socket.IO
// handshakes before reporting open, answers the server's pings, and hands on the Socket.IO
// packets (without the engine.io "4"); otherwise every frame is handed on as it is.
class peer_client : public std::enable_shared_from_this<peer_client>, private websocket_listener {
public:
    using open_handler = std::function<void(const expected<void>&)>;
    using message_handler = std::function<void(std::string_view)>;
    using close_handler = std::function<void(const std::string& reason)>;

    explicit peer_client(boost::asio::any_io_executor executor);
    peer_client(const peer_client&) = delete;
    peer_client& operator=(const peer_client&) = delete;

    void on_message(message_handler handler) { on_message_ = std::move(handler); }
    void on_close(close_handler handler) { on_close_ = std::move(handler); }

    void start(peer_connect_options options, open_handler handler);
    // Queues one frame (with engine_io: one Socket.IO packet, the "4" is added here).
    void send(std::string_view text);
    void close();

    [[nodiscard]] bool is_open() const noexcept { return state_ == state::open; }

private:
    enum class state : unsigned char { idle, connecting, handshaking, open, closed };

    void on_ws_open() override;
    bool on_ws_message(std::string_view payload, bool text) override;
    void on_ws_error(const std::string& reason) override { fail(reason); }
    bool handle_engine_io(std::string_view frame);
    void opened();
    void fail(const std::string& reason);

    websocket_connection ws_;
    peer_connect_options options_;
    open_handler on_open_;
    message_handler on_message_;
    close_handler on_close_;
    state state_ = state::idle;
};

// POSTs messages over one keep-alive HTTP/1.1 connection, one request in flight (Nchan answers
// each publish at once, so pipelining would gain little and complicate error accounting).
class http_publisher : public std::enable_shared_from_this<http_publisher> {
public:
    using open_handler = std::function<void(const expected<void>&)>;
    using close_handler = std::function<void(const std::string& reason)>;

    explicit http_publisher(boost::asio::any_io_executor executor);

    void on_close(close_handler handler) { on_close_ = std::move(handler); }
    // Before start(): the body's type (text/plain for Nchan), and an Authorization header
    // value (Switchboard's events API: "Bearer <key>"), none when empty.
    void set_headers(std::string content_type, std::string authorization) {
        content_type_ = std::move(content_type);
        authorization_ = std::move(authorization);
    }
    void start(boost::asio::ip::tcp::endpoint server, std::string host, open_handler handler);
    void post(std::string target, std::string body);
    void close();

    [[nodiscard]] bool is_open() const noexcept { return open_; }
    [[nodiscard]] std::size_t queued() const noexcept { return pending_.size(); }
    [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }

private:
    void do_write();
    void on_write(boost::beast::error_code ec, std::size_t bytes);
    void on_read(boost::beast::error_code ec, std::size_t bytes);
    void do_reconnect();
    void fail(const std::string& reason);

    boost::beast::tcp_stream stream_;
    boost::asio::ip::tcp::endpoint server_;
    std::string host_;
    std::string content_type_ = "text/plain";
    std::string authorization_;
    open_handler on_open_;
    close_handler on_close_;
    std::deque<std::pair<std::string, std::string>> pending_;  // (target, body)
    boost::beast::http::request<boost::beast::http::string_body> request_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    boost::beast::flat_buffer buffer_;
    bool open_ = false;
    bool in_flight_ = false;
    std::uint64_t rejected_ = 0;  // non-2xx answers
};

}  // namespace switchboard::client
