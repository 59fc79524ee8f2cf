// The hub protocol's limits and timeouts, shared by the transports and the hub connections.
#pragma once

#include <chrono>
#include <cstddef>

namespace switchboard {

using std::chrono::milliseconds;

// Limits and timeouts of the hub protocol; defaults are ASP.NET Core's so clients behave the same.
struct hub_options {
    // Pings keep proxies and the client's 30 s server timeout from closing idle connections.
    milliseconds keep_alive_interval{15'000};
    // Twice the clients' keep-alive interval: one lost ping is tolerated.
    milliseconds client_timeout{30'000};
    // A client that connected but never completes a handshake holds a socket for nothing.
    milliseconds handshake_timeout{15'000};
    // ASP.NET's MaximumReceiveMessageSize: bounds what a client can make us buffer per message.
    std::size_t max_message_size = 32 * 1024;
    // Bytes queued for one client before it is disconnected as a slow consumer; 1 MiB absorbs
    // bursts of ~10,000 small messages while bounding memory per connection.
    std::size_t send_queue_limit = 1024 * 1024;
    // Exception details in errors sent to clients; off in production, they may leak internals.
    bool detailed_errors = false;
    // ASP.NET's DisconnectTimeout: how long a negotiated token may stay unused, a long-polling
    // client may go without polling, and a stateful connection may wait for its client to
    // reconnect after its socket dropped.
    milliseconds disconnect_timeout{15'000};
    // Unacknowledged messages kept for a stateful reconnect (ASP.NET's default); past it the
    // connection keeps working but can no longer resume after a drop.
    std::size_t stateful_reconnect_buffer_size = 100'000;
    // ASP.NET's CloseOnAuthenticationExpiration: off by default, as there, because a client
    // without automatic reconnect would stay disconnected; on, a connection ends (Close with
    // allowReconnect) once its token's exp passes, so a revoked user cannot listen forever.
    bool close_on_token_expiry = false;
    // Hub messages a client may send per second (pings and stream items count); 0: unlimited.
    // 100 is far above chat or dashboard use (about 1 a second) and above a 60 Hz game loop,
    // yet keeps one flooding client from monopolising its shard.
    double max_messages_per_second = 100;
    // Messages a client may send at once above that rate: a reconnecting client flushing a
    // backlog or a burst of stream items is not cut off.
    double message_burst = 500;
};

}  // namespace switchboard
