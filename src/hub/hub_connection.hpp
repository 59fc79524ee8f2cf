// One client of one hub over any transport: the connection's state machine (handshake, the
// hub protocol, keep-alive, timeouts, stateful reconnect, the send queue), handing invocations
// to its dispatcher (ASP.NET's HubConnectionContext and HubConnectionHandler together).
#pragma once

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "core/token_bucket.hpp"
#include "hub/dispatcher.hpp"
#include "hub/guard.hpp"
#include "hub/hub.hpp"
#include "hub/replay_buffer.hpp"
#include "protocol/codec.hpp"
#include "protocol/hub_message.hpp"
#include "protocol/message_reader.hpp"
#include "routing/durable/sessions.hpp"
#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::hub {

class hub_server;

// Thread safety: lives on its connection's shard; every member runs there.
class hub_connection final : public transport::connection_application,
                             public routing::recipient,
                             public routing::durable::logged_recipient,
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
    // A REST close: Close without allowReconnect, so the client does not come straight back.
    void disconnect(std::optional<std::string> reason) override { close(std::move(reason), false); }
    [[nodiscard]] bool durable() const noexcept override { return durable_; }

    // Durable mode (routing/durable/sessions.hpp), on this shard.
    void deliver_logged(std::int64_t sequence, const shared_buffer& frame) override;
    void on_caught_up(std::vector<std::string> groups) override;
    void on_moved() override;
    void on_state_lost() override;
    void when_ready_for_more(std::function<void(std::size_t budget)> then) override;
    // Right after construction: continues `claimed`, a connection another instance held,
    // instead of waiting for a handshake (the client sends none when it resumes).
    void adopt(const routing::durable::claimed_session& claimed);

    // Used by the dispatcher and by stream_writer and reply handles (hub/streams.hpp), on
    // this shard.
    [[nodiscard]] bool active() const noexcept { return state_ == state::connected; }
    void send_stream_item(const std::string& invocation_id, boost::json::value item) {
        dispatcher_.send_stream_item(invocation_id, std::move(item));
    }
    void end_stream(detail::server_stream_state& stream, std::optional<error> failure) {
        dispatcher_.end_stream(stream, std::move(failure));
    }
    void end_invocation(detail::reply_state& reply, std::optional<error> failure,
                        boost::json::value result) {
        dispatcher_.end_invocation(reply, std::move(failure), std::move(result));
    }
    [[nodiscard]] const hub_options& options() const noexcept;
    [[nodiscard]] const hub_definition& definition() const noexcept { return definition_; }
    [[nodiscard]] const protocol::codec& codec() const noexcept { return *codec_; }
    // What hub code called for this connection sees; valid while this connection lives.
    [[nodiscard]] hub_context make_context() const;
    [[nodiscard]] const switchboard::identity* identity() const noexcept {
        const auto& verified = connection_->request().identity;
        return verified ? &*verified : nullptr;
    }
    // Sends a message that stateful reconnect numbers and keeps until the client acks it.
    void send_tracked(shared_buffer bytes);
    void send_message_tracked(const protocol::hub_message& message);
    // Logs and counts what hub code threw while serving this connection.
    void report_user_error(metric_hub_error place, std::string_view method,
                           const error& failure) const noexcept;

    // Called on a timer by the shard: handshake timeout, keep-alive pings, client timeout.
    void on_heartbeat(clock::time_point now);
    // Graceful shutdown: Close with allowReconnect, so clients reconnect to another instance.
    void close_for_shutdown();
    // Shutdown past its deadline: the socket goes now, the connection ends.
    void terminate();

    [[nodiscard]] const std::string& connection_id() const noexcept { return connection_->id(); }
    [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }

private:
    // subscribing: the handshake was valid; its answer waits until the bus carries the
    // connection's messages (router::when_connection_in_effect).
    enum class state : unsigned char { handshaking, subscribing, connected, closing, closed };

    void on_handshake(std::string_view record);
    // Answers the handshake once the bus carries the connection's messages.
    void on_subscribed();
    void read_records();
    // Runs on_connected; a throw closes the connection (ASP.NET, without reconnect).
    void run_connected();
    void on_message(protocol::hub_message&& message);
    void send_bytes(std::string bytes);
    void send_message(const protocol::hub_message& message);
    // Handles one record: the handshake, or a message in the negotiated protocol.
    void on_record(std::string_view record);
    // Spends a token of the message rate; past it, closes the connection and returns false.
    bool within_message_rate();
    void fail_handshake(std::string_view error);
    // Ends the connection with a Close message; `detail` is added with detailed errors only.
    void close_with_error(std::string_view detail, bool allow_reconnect);
    void close(std::optional<std::string> error, bool allow_reconnect);

    hub_server& server_;
    routing::hub_id hub_;
    const hub_definition& definition_;
    transport::connection_ptr connection_;
    protocol::message_reader reader_;
    // json until the handshake picks the protocol; never null.
    const protocol::codec* codec_ = &protocol::codec_of(protocol::wire_protocol::json);
    std::string user_id_;
    clock::time_point opened_at_;
    clock::time_point last_received_;
    clock::time_point last_ping_sent_;
    state state_ = state::handshaking;
    // ASP.NET enables the client timeout only after the client's first Ping (back-compat).
    bool client_pings_ = false;
    // Counted in switchboard_hub_connections from the handshake until the transport closes.
    std::optional<metric_protocol> protocol_;
    bool registered_ = false;  // in the router: the handshake succeeded
    // on_connected returned normally: on_disconnected runs only then, as in ASP.NET.
    bool hub_connected_ = false;
    // Stateful reconnect: the socket is gone and the client may come back.
    bool paused_ = false;
    clock::time_point paused_since_;
    // hub_options::max_messages_per_second; starts full.
    token_bucket message_budget_;
    replay_buffer replay_;
    // Durable mode: trackable messages go through the cluster's log (sessions_ is set).
    bool durable_ = false;
    // Another instance took this connection over: it ends here, not for the hub.
    bool moved_ = false;
    routing::durable::sessions* sessions_ = nullptr;
    dispatcher dispatcher_{*this};
};

}  // namespace switchboard::hub
