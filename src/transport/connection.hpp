// A client connection as the transports see it: identity, a bounded output queue, and the
// application (the hub connection) that consumes its input.
#pragma once

#include "core/identity.hpp"
#include "core/metrics.hpp"
#include "core/shared_buffer.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::transport {

enum class transfer_format { text, binary };

enum class transport_kind : unsigned char { none, websockets, server_sent_events, long_polling };

// The names clients and negotiate use ("WebSockets", "ServerSentEvents", "LongPolling").
std::string_view transport_name(transport_kind kind);

// What the hub layer may know of the HTTP request that opened the connection.
struct request_info {
    std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
    std::string remote_address;
    // Kept only for endpoints that ask (endpoint_options::keep_request_headers): most hubs
    // never read them, and they would cost memory on every connection.
    std::vector<std::pair<std::string, std::string>> headers;
    // Set when the endpoint authenticates (endpoint_options::authenticate): the user who opened
    // the connection. Unset means development mode, where the hub may trust the query instead.
    std::optional<switchboard::identity> identity;

    // The first value of a query parameter (case-insensitive name, as ASP.NET reads them).
    [[nodiscard]] const std::string* find_query(std::string_view name) const;
    // The first value of a request header (case-insensitive name).
    [[nodiscard]] const std::string* find_header(std::string_view name) const;
};

// The consumer of a connection's input: the hub connection.
class connection_application {
public:
    virtual ~connection_application() = default;
    // Bytes from the client, in order; frame and request boundaries carry no meaning.
    virtual void on_received(std::string_view bytes) = 0;
    // The transport has ended (client left, network failure, or our own close completed).
    // Called exactly once, on the connection's shard; no input follows.
    virtual void on_transport_closed() = 0;
    // Stateful reconnect: the socket dropped and the client may come back (paused), or came
    // back on a new socket (resumed); output queued before the drop is discarded.
    virtual void on_transport_paused() {}
    virtual void on_transport_resumed() {}
};

// The transport session currently moving bytes for a connection (a WebSocket, later an SSE
// response or a long poll). Called on the connection's shard only.
class connection_writer {
public:
    virtual ~connection_writer() = default;
    // Output was queued while the writer had nothing in flight.
    virtual void on_output_ready() = 0;
    // The application finished: flush what is queued, then close normally.
    virtual void on_close_requested() = 0;
    // The connection must end now without flushing; `reason` is shown to the client.
    virtual void on_abort(std::uint16_t websocket_code, std::string_view reason) = 0;
    // Stateful reconnect gave the connection a new writer: drop the socket, end nothing.
    virtual void on_replaced() {}
    // Shutdown: drop the socket now; the connection ends (no stateful pause).
    virtual void on_terminate() = 0;
};

// Thread safety: every member is used on the connection's shard only; other shards post to it.
class connection : public std::enable_shared_from_this<connection> {
public:
    enum class send_result { queued, overflow, closed };

    connection(std::string id, std::string token, std::size_t shard, transport_kind transport,
               std::size_t send_queue_limit, request_info request);

    [[nodiscard]] const std::string& id() const noexcept { return id_; }
    [[nodiscard]] const std::string& token() const noexcept { return token_; }
    [[nodiscard]] std::size_t shard() const noexcept { return shard_; }
    [[nodiscard]] transport_kind transport() const noexcept { return transport_; }
    // Negotiated stateful reconnect (WebSockets only): a dropped socket pauses the connection.
    [[nodiscard]] bool stateful() const noexcept { return stateful_; }
    void set_stateful(bool stateful) noexcept { stateful_ = stateful; }
    [[nodiscard]] bool paused() const noexcept { return paused_; }
    // Runs once when the connection has ended (after the application was told).
    void set_on_ended(std::function<void()> on_ended) { on_ended_ = std::move(on_ended); }
    // Server-Sent Events carry text only; MessagePack needs WebSockets or long polling.
    [[nodiscard]] bool supports_binary() const noexcept {
        return transport_ != transport_kind::server_sent_events;
    }
    [[nodiscard]] transfer_format format() const noexcept { return format_; }
    // Chosen by the handshake: the hub protocol decides Text or Binary frames.
    void set_format(transfer_format format) noexcept { format_ = format; }
    [[nodiscard]] const request_info& request() const noexcept { return request_; }
    // What the application continues when this connection was taken over from another
    // instance (durable mode; the hub layer knows its type), or null. Set before the
    // application is created.
    [[nodiscard]] const std::shared_ptr<const void>& adopted() const noexcept { return adopted_; }
    void set_adopted(std::shared_ptr<const void> state) noexcept { adopted_ = std::move(state); }
    // The server's counters (null in tests that need none); they outlive every connection.
    void set_metrics(switchboard::metrics* counters) noexcept { metrics_ = counters; }
    [[nodiscard]] switchboard::metrics* metrics() const noexcept { return metrics_; }
    [[nodiscard]] bool closing() const noexcept { return state_ != state::open; }

    void set_application(std::shared_ptr<connection_application> application);
    void attach_writer(connection_writer* writer);
    void detach_writer(connection_writer* writer);
    // A writer that lives as long as the connection (long polling spans many requests).
    void own_writer(std::shared_ptr<connection_writer> writer);
    [[nodiscard]] connection_writer* writer() const noexcept { return writer_; }

    // A client that cannot keep up is closed with 1008, policy violation (RFC 6455 7.4.1): it
    // broke the send-queue limit, the one policy a reader controls; 1011 would blame the server.
    static constexpr std::uint16_t slow_consumer_close_code = 1008;
    // The reason sent with it (where the transport can), naming the limit.
    [[nodiscard]] static std::string slow_consumer_reason(std::size_t send_queue_limit);

    // Queues whole hub messages for the client. On overflow the connection is aborted as a
    // slow consumer. Never calls the application back synchronously (writers only start
    // asynchronous work), so callers may be iterating a registry while they send.
    send_result send(shared_buffer bytes);
    // Queues the last message (a Close) past the bound, then closes after flushing.
    void close_after(shared_buffer last_message);
    // Ends without flushing (slow consumer), telling the client why where the transport can.
    void abort(std::uint16_t websocket_code, std::string reason);
    // Ends now: the writer drops its socket, or the connection ends at once if it has none.
    void terminate();
    [[nodiscard]] std::size_t send_queue_limit() const noexcept { return send_queue_limit_; }
    // Runs `then` once fewer than `bytes` are queued: now if they are, else when the writer
    // takes output or the queue is dropped (pause, abort, end), so that a producer can wait
    // for room instead of overflowing the limit. At most one waits: a later call replaces it.
    // `then` may run inside a writer's take_output, so it must not send; it posts instead.
    void when_queued_below(std::size_t bytes, std::function<void()> then);

    // Reader side: bytes from the client, handed to the application.
    void deliver(std::string_view bytes) {
        if (application_) {
            application_->on_received(bytes);
        }
    }
    // Writer side: moves every queued buffer into `out` (appending) and returns their size.
    std::size_t take_output(std::vector<shared_buffer>& out);
    [[nodiscard]] bool has_output() const noexcept { return !queue_.empty(); }
    [[nodiscard]] bool close_requested() const noexcept { return state_ == state::closing; }
    // Writer side: the transport is gone; tells the application (once) and releases it.
    void on_transport_ended();
    // Writer side: the socket dropped but the client may resume (stateful reconnect).
    void on_transport_lost();
    // A new socket for a paused (or half-open) stateful connection; false if it has ended.
    bool resume(connection_writer* writer);

private:
    enum class state : std::uint8_t { open, closing, aborted, ended };

    std::string id_;
    std::string token_;
    std::size_t shard_;
    transport_kind transport_;
    transfer_format format_ = transfer_format::text;
    std::size_t send_queue_limit_;
    request_info request_;
    std::vector<shared_buffer> queue_;
    std::size_t queued_bytes_ = 0;
    state state_ = state::open;
    connection_writer* writer_ = nullptr;
    std::shared_ptr<connection_writer> owned_writer_;
    std::shared_ptr<connection_application> application_;
    std::function<void()> on_ended_;
    bool stateful_ = false;
    bool paused_ = false;
    std::uint16_t abort_code_ = 0;
    std::string abort_reason_;
    switchboard::metrics* metrics_ = nullptr;
    std::shared_ptr<const void> adopted_;
    // when_queued_below(): the waiting producer and its threshold.
    std::function<void()> on_room_;
    std::size_t room_below_ = 0;

    // Runs on_room_ if the queue is below its threshold now.
    void notify_room();
};

using connection_ptr = std::shared_ptr<connection>;

}  // namespace switchboard::transport
