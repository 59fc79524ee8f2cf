// One client of one hub over any transport: handshake, the hub protocol, dispatch of
// invocations to the hub's methods, keep-alive and timeouts (ASP.NET's HubConnectionContext
// and HubConnectionHandler together).
#pragma once

#include "core/config.hpp"
#include "core/token_bucket.hpp"
#include "hub/hub.hpp"
#include "protocol/hub_message.hpp"
#include "protocol/message_reader.hpp"
#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::hub {

class hub_server;

// Thread safety: lives on its connection's shard; every member runs there.
class hub_connection final : public transport::connection_application,
                             public routing::recipient,
                             public std::enable_shared_from_this<hub_connection> {
public:
    using clock = std::chrono::steady_clock;

    hub_connection(hub_server& server, routing::hub_id hub, const hub_definition& definition,
                   transport::connection_ptr connection);

    void on_received(std::string_view bytes) override;
    void on_transport_closed() override;
    void on_transport_paused() override;
    void on_transport_resumed() override;
    void deliver(const routing::message_ptr& message) override;
    void invoke(const routing::message_ptr& message, std::chrono::milliseconds timeout,
                routing::result_callback on_result) override;

    // Used by stream_writer and reply handles (hub/streams.hpp), on this shard.
    [[nodiscard]] bool active() const noexcept { return state_ == state::connected; }
    void send_stream_item(const std::string& invocation_id, boost::json::value item);
    void end_stream(detail::server_stream_state& stream, std::optional<error> failure);
    void end_invocation(detail::reply_state& reply, std::optional<error> failure,
                        boost::json::value result);

    // Called on a timer by the shard: handshake timeout, keep-alive pings, client timeout.
    void on_heartbeat(clock::time_point now);
    // Graceful shutdown: Close with allowReconnect, so clients reconnect to another instance.
    void close_for_shutdown();
    // Shutdown past its deadline: the socket goes now, the connection ends.
    void terminate();

    [[nodiscard]] const std::string& connection_id() const noexcept { return connection_->id(); }
    [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }

private:
    enum class state : unsigned char { handshaking, connected, closing, closed };

    void on_handshake(std::string_view record);
    void on_message(protocol::hub_message&& message);
    // Runs a method for an Invocation (streaming == false) or a StreamInvocation.
    void dispatch(std::optional<std::string> invocation_id, std::string_view target,
                  const boost::json::array& arguments, const std::vector<std::string>& stream_ids,
                  bool streaming);
    void on_stream_item(protocol::stream_item_message&& item);
    void on_client_completion(protocol::completion_message&& completion);
    void on_cancel(const std::string& invocation_id);
    void close_uploads(const std::vector<std::string>& upload_ids);
    [[nodiscard]] std::string invocation_error(const std::string& method,
                                               const error& failure) const;
    void send_completion(const protocol::completion_message& completion);
    void send_bytes(std::string bytes);
    // Appends `message` in the connection's hub protocol.
    void write(const protocol::hub_message& message, std::string& out) const;
    void send_message(const protocol::hub_message& message);
    // Handles one record: the handshake, or a message in the negotiated protocol.
    void on_record(std::string_view record);
    // Spends a token of the message rate; past it, closes the connection and returns false.
    bool within_message_rate();
    // Sends a message that stateful reconnect numbers and keeps until the client acks it.
    void send_tracked(shared_buffer bytes);
    // Stateful reconnect: false for a message received twice (replayed after a reconnect).
    bool accept_tracked();
    void on_ack(std::int64_t sequence_id);
    void on_sequence(std::int64_t sequence_id);
    void fail_handshake(std::string_view error);
    // Ends the connection with a Close message; `detail` is added with detailed errors only.
    void close_with_error(std::string_view detail, bool allow_reconnect);
    void close(std::optional<std::string> error, bool allow_reconnect);

    hub_server& server_;
    routing::hub_id hub_;
    const hub_definition& definition_;
    transport::connection_ptr connection_;
    protocol::message_reader reader_;
    routing::wire_protocol protocol_ = routing::wire_protocol::json;
    std::string user_id_;
    clock::time_point opened_at_;
    clock::time_point last_received_;
    clock::time_point last_ping_sent_;
    state state_ = state::handshaking;
    // ASP.NET enables the client timeout only after the client's first Ping (back-compat).
    bool client_pings_ = false;
    bool registered_ = false;  // in the router: the handshake succeeded
    // hub_options::max_messages_per_second; starts full.
    token_bucket message_budget_;

    struct pending_result {
        routing::result_callback on_result;
        clock::time_point deadline;
    };
    // Streams to the caller, by invocation id; the writers own them.
    std::unordered_map<std::string, std::weak_ptr<detail::server_stream_state>> streams_;
    // Streams from the caller, by stream id.
    std::unordered_map<std::string, std::shared_ptr<detail::upload_state>> uploads_;
    // Client results this server waits for, by the "s<N>" invocation id it sent.
    std::unordered_map<std::string, pending_result> pending_results_;
    std::uint64_t next_result_id_ = 1;

    // Stateful reconnect (HubProtocol.md): both directions number their trackable messages
    // from 1; sent ones stay in replay_ until acked, received ones are deduplicated.
    bool stateful_ = false;
    bool paused_ = false;
    clock::time_point paused_since_;
    std::int64_t sent_count_ = 0;
    // Engaged on the first tracked send: an empty std::deque allocates ~600 bytes, which every
    // connection would pay whether it negotiated stateful reconnect or not.
    std::optional<std::deque<std::pair<std::int64_t, shared_buffer>>> replay_;
    std::size_t replay_bytes_ = 0;
    std::int64_t next_receiving_id_ = 1;
    std::int64_t latest_received_id_ = 0;
    std::int64_t last_acked_id_ = 0;
};

}  // namespace switchboard::hub
