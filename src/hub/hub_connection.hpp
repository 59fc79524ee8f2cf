// One client of one hub over any transport: handshake, the hub protocol, dispatch of
// invocations to the hub's methods, keep-alive and timeouts (ASP.NET's HubConnectionContext
// and HubConnectionHandler together).
#pragma once

#include "core/config.hpp"
#include "hub/hub.hpp"
#include "protocol/hub_message.hpp"
#include "protocol/text_framing.hpp"
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
                             public std::enable_shared_from_this<hub_connection> {
public:
    using clock = std::chrono::steady_clock;

    hub_connection(hub_server& server, routing::hub_id hub, const hub_definition& definition,
                   transport::connection_ptr connection);

    void on_received(std::string_view bytes) override;
    void on_transport_closed() override;
    void deliver(const routing::message_ptr& message) override;

    // Called on a timer by the shard: handshake timeout, keep-alive pings, client timeout.
    void on_heartbeat(clock::time_point now);
    // Graceful shutdown: Close with allowReconnect, so clients reconnect to another instance.
    void close_for_shutdown();

    [[nodiscard]] const std::string& connection_id() const noexcept { return connection_->id(); }
    [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }

private:
    enum class state : unsigned char { handshaking, connected, closing, closed };

    void on_handshake(std::string_view record);
    void on_message(protocol::hub_message&& message);
    void on_invocation(protocol::invocation_message&& invocation);
    void on_stream_invocation(const protocol::stream_invocation_message& invocation);
    void send_completion(const protocol::completion_message& completion);
    void send_bytes(std::string bytes);
    void fail_handshake(std::string_view error);
    // Ends the connection with a Close message; `detail` is added with detailed errors only.
    void close_with_error(std::string_view detail, bool allow_reconnect);
    void close(std::optional<std::string> error, bool allow_reconnect);

    hub_server& server_;
    routing::hub_id hub_;
    const hub_definition& definition_;
    transport::connection_ptr connection_;
    protocol::text_frame_reader reader_;
    std::string user_id_;
    clock::time_point opened_at_;
    clock::time_point last_received_;
    clock::time_point last_ping_sent_;
    state state_ = state::handshaking;
    // ASP.NET enables the client timeout only after the client's first Ping (back-compat).
    bool client_pings_ = false;
    bool registered_ = false;  // in the router: the handshake succeeded
};

}  // namespace switchboard::hub
