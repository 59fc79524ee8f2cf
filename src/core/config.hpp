// Server settings: every field has a flag and an environment variable (src/apps/main.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

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

// JWT bearer authentication of every hub endpoint (issue #5). Any key (secret, PEM public key,
// JWKS) turns it on; without one the server runs in development mode (user ids from ?user=).
struct auth_options {
    // HS256 shared secret, raw bytes; at least 32 (RFC 7518 3.2), checked at startup.
    std::string jwt_secret;
    // RS256/ES256: a PEM public key or certificate of the issuer.
    std::string jwt_public_key_file;
    // A JWK set as an identity provider publishes it (saved to a file: no fetching at runtime).
    std::string jwks_file;
    // Empty: not checked. Set them whenever the issuer sets them: a token for another
    // application signed by the same key is then refused.
    std::string issuer;
    std::string audience;
    // Tolerance on exp and nbf: a minute, auth::jwt_options' default (see its reasoning there);
    // main() copies that default so the two cannot drift.
    milliseconds clock_skew{60'000};
    // Empty: auth::jwt_options' lists (sub, nameid, ... / role, roles, ...).
    std::vector<std::string> user_claims;
    std::vector<std::string> role_claims;
    // `--authorize` rules, "HUB=REQUIREMENTS" or "HUB.METHOD=REQUIREMENTS" (auth/policy.hpp).
    std::vector<std::string> policies;

    [[nodiscard]] bool enabled() const {
        return !jwt_secret.empty() || !jwt_public_key_file.empty() || !jwks_file.empty();
    }
};

struct server_options {
    std::string listen = "0.0.0.0:5000";
    // 0: one shard per hardware thread.
    std::size_t threads = 0;
    // "memory" (one instance) or a Redis connection string: redis://..., rediss://..., or the
    // StackExchange.Redis form "host:port,password=...,ssl=True,channelPrefix=...".
    std::string backplane = "memory";
    // This instance's name on the backplane; empty: hostname + random suffix, unique per run.
    std::string server_name;
    // Bytes of publications held while Redis is unreachable and sent when it is back; 16 MiB
    // rides out a restart of a busy instance, beyond it publications are dropped and counted.
    std::size_t backplane_buffer_size = 16 * 1024 * 1024;
    // A group change for a connection on another instance fails after this long without ack.
    milliseconds group_ack_timeout{10'000};
    // The chat hub's name on the backplane: the .NET hub's full type name when sharing Redis
    // with ASP.NET Core servers; empty: "chat".
    std::string chat_hub_name;
    // Serves the demo page; empty disables static files.
    std::string static_dir = "web";
    // PEM certificate chain (server certificate first): set, the listener speaks https and wss
    // itself, for deployments without a TLS-terminating proxy in front.
    std::string tls_cert_file;
    // PEM private key of that certificate; empty: read from tls_cert_file (a combined PEM).
    std::string tls_key_file;
    // Origins allowed to call cross-origin with credentials; "*" allows any origin.
    std::vector<std::string> cors_origins;
    // Headers beyond 16 KiB are not a browser; refuse with 431 before buffering more.
    std::size_t max_header_size = 16 * 1024;
    // POST bodies carry hub messages (SSE, long polling); twice the message limit plus framing.
    std::size_t max_body_size = 64 * 1024;
    // Upper bound on a graceful shutdown: clients get a Close, then the process exits.
    milliseconds drain_timeout{5'000};
    // Chat hub: longer chat messages are refused with an error (the protocol limit still applies).
    std::size_t chat_max_message_length = 4096;
    // Chat presence events (chat_hub_options::presence_events): on for the demo page.
    bool chat_presence_events = true;
    // Chat hub groups a client may join and send to: "open" (any: development and trusted
    // clients), "patterns" (names matching chat_group_patterns), "roles" (a role
    // "group:PATTERN" matching the name).
    std::string chat_group_policy = "open";
    // Shell-style patterns; "{user}" stands for the caller's user id ("dm-{user}-*").
    std::vector<std::string> chat_group_patterns;
    // Connections on this instance, negotiated tokens included; 0: unlimited. The capacity of
    // a machine depends on its memory and descriptor limit: set it from a load test, so that
    // clients get a clear 503 (and try another instance) instead of a failed accept.
    std::size_t max_connections = 0;
    // Per client IP address; 0: unlimited. 1,000 admits a large NAT'd office or campus (every
    // browser tab is a connection) while one host cannot hold the whole server.
    std::size_t max_connections_per_ip = 1000;
    // Per user id (authenticated, or ?user= in development mode); 0: unlimited. 100 covers
    // any person's tabs and devices; a leaked token cannot open thousands of connections.
    std::size_t max_connections_per_user = 100;
    // Negotiate requests (and WebSockets without negotiate) per second per client IP; 0:
    // unlimited. Bounds the CPU and token-table churn one address causes; 100 a second is far
    // above what clients reconnecting with the official back-off need.
    double negotiate_rate_per_ip = 100;
    // Negotiates an address may make at once: as many as it may hold connections, so a whole
    // NAT'd office reconnecting after a restart is not refused.
    double negotiate_burst_per_ip = 1000;
    // Groups one connection may be in; 0: unlimited. Nchan's ceiling is 255 channels per
    // connection (specs/anchors.md): far more than clients join, and it bounds the memory and
    // backplane subscriptions one client can create.
    std::size_t max_groups_per_connection = 256;
    hub_options hub;
    auth_options auth;
};

}  // namespace switchboard
