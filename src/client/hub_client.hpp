// A minimal asynchronous SignalR hub client over WebSockets, built for load: no negotiate unless
// stateful, no reconnect, no completions tracking; one io_context thread drives many of them.
#pragma once

#include "client/hub_connection_options.hpp"
#include "client/websocket_connection.hpp"
#include "core/expected.hpp"
#include "protocol/hub_message.hpp"
#include "protocol/message_reader.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::client {

struct connect_options {
    boost::asio::ip::tcp::endpoint server;
    // Bound before connect: spreading connections over 127.0.0.x source addresses gives each
    // address its own ephemeral port range (about 28,000 ports per address and destination).
    std::optional<boost::asio::ip::address> source;
    std::string host;                   // Host header
    std::string target = "/hubs/chat";  // path and query, e.g. /hubs/chat?user=alice
    hub_protocol protocol = hub_protocol::json;
    // Matches the server's default limit on what a client sends, applied here to what it gets.
    std::size_t max_message_size = 1024 * 1024;
    // Long enough for a server busy accepting thousands of connections at once.
    std::chrono::milliseconds connect_timeout{30'000};
    // Negotiate with useStatefulReconnect=true first, connect with the connection token and
    // shake hands at version 2: the server then numbers its trackable messages and keeps each
    // until acknowledged (send_ack), as it does for the official clients' stateful reconnect.
    bool stateful = false;
};

// The type of a hub message read from its first bytes, without parsing it: JSON as servers
// write it (`{"type":N` first), MessagePack's array header then a positive fixint. Nothing
// when the record does not start that way (the caller parses it instead).
std::optional<int> peek_message_type(std::string_view record, hub_protocol protocol) noexcept;

// What stateful reconnect numbers (HubProtocol.md): invocations, stream invocations, stream
// items, completions and cancels; pings, closes, acks and sequences are not counted.
constexpr bool is_trackable(int type) noexcept {
    return type >= 1 && type <= 5;
}

// Appends an Ack of every message up to `sequence_id`, framed: {"type":8,"sequenceId":N} or
// MessagePack's [8, N].
void write_ack(std::int64_t sequence_id, hub_protocol protocol, std::string& out);

// Skips negotiate (the skipNegotiation path of the official clients) unless `stateful`: GET
// <target> upgrades to a WebSocket, the handshake record follows. Errors travel as values;
// nothing on the data path throws.
class hub_client : public std::enable_shared_from_this<hub_client>, private websocket_listener {
public:
    using open_handler = std::function<void(const expected<void>&)>;
    using invocation_handler = std::function<void(protocol::invocation_message&)>;
    using completion_handler = std::function<void(protocol::completion_message&)>;
    using close_handler = std::function<void(const std::string& reason)>;
    // Sees each message's encoded bytes first; false skips decoding it.
    using record_filter = std::function<bool(std::string_view record)>;

    explicit hub_client(boost::asio::any_io_executor executor);
    hub_client(const hub_client&) = delete;
    hub_client& operator=(const hub_client&) = delete;

    // Handlers run on the client's executor; set them before start().
    void on_invocation(invocation_handler handler) { on_invocation_ = std::move(handler); }
    void on_completion(completion_handler handler) { on_completion_ = std::move(handler); }
    // Called once when an open connection ends (server close, error, or close()).
    void on_close(close_handler handler) { on_close_ = std::move(handler); }
    // A load generator ignores most of what a hub sends (e.g. the chat hub's UserConnected to
    // everyone on every arrival); skipping those undecoded keeps its CPU for the measured ones.
    void set_record_filter(record_filter filter) { filter_ = std::move(filter); }

    // Connects, upgrades and completes the hub handshake; `handler` gets the outcome.
    void start(connect_options options, open_handler handler);

    // Queues an invocation; with no id the server sends no completion (fire and forget).
    // Messages queued while a write is in flight leave together in one WebSocket frame.
    void send(std::string_view target, const boost::json::array& arguments,
              std::optional<std::string> invocation_id = std::nullopt);
    // Keeps the server's client timeout from closing a connection that only listens.
    void send_ping();
    // Stateful: acknowledges the trackable messages received since the last Ack, as the
    // official clients do about once a second, so the server's replay buffer (100 kB by
    // default) is released instead of filling up. Nothing when stateless or nothing is new.
    void send_ack();

    // Ends the connection at once (no close handshake): pending operations are cancelled.
    void close();

    [[nodiscard]] bool is_open() const noexcept { return state_ == state::open; }
    // Bytes waiting behind the write in flight: a sender that outpaces the socket sees it grow.
    [[nodiscard]] std::size_t queued_bytes() const noexcept { return pending_.size(); }
    // Stateful: the trackable messages received so far (the sequence id an Ack names).
    [[nodiscard]] std::int64_t received_sequence() const noexcept { return received_; }

private:
    enum class state : unsigned char { idle, connecting, open, closed };
    struct negotiation;  // the negotiate request in flight; gone once it answered

    void do_negotiate();
    void on_negotiated(const std::shared_ptr<negotiation>& request);
    void do_connect();

    void on_ws_open() override;
    bool on_ws_message(std::string_view payload, bool text) override;
    void on_ws_error(const std::string& reason) override;
    void on_ws_drained() override { do_write(); }
    void do_write();

    bool handle_record(std::string_view record);
    void fail(const std::string& reason);

    websocket_connection ws_;
    connect_options options_;
    open_handler on_open_;
    invocation_handler on_invocation_;
    completion_handler on_completion_;
    close_handler on_close_;
    record_filter filter_;
    protocol::message_reader reader_;
    std::string pending_;  // encoded messages waiting for the next write
    std::shared_ptr<negotiation> negotiation_;
    std::int64_t received_ = 0;  // trackable messages received (stateful)
    std::int64_t acked_ = 0;     // the last Ack sent
    bool handshake_done_ = false;
    state state_ = state::idle;
};

}  // namespace switchboard::client
