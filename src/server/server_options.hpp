// Settings of one instance: listener, TLS, limits, backplane, and each module's own options.
// Every field has a flag and an environment variable (src/apps/main.cpp).
#pragma once

#include "api/rest_options.hpp"
#include "auth/auth_options.hpp"
#include "core/config.hpp"
#include "events/events_options.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace switchboard {

struct server_options {
    std::string listen = "0.0.0.0:5000";
    // 0: one shard per hardware thread.
    std::size_t threads = 0;
    // "memory" (one instance) or a Redis connection string: redis://..., rediss://..., or the
    // StackExchange.Redis form "host:port,password=...,ssl=True,channelPrefix=...".
    std::string backplane = "memory";
    // Raw bytes before every channel name (ASP.NET's StackExchange.Redis ChannelPrefix, e.g.
    // "Diquis"); nullopt: what the backplane spec says (channelPrefix=...), else none.
    std::optional<std::string> channel_prefix;
    // This instance's name on the backplane; empty: hostname + random suffix, unique per run.
    std::string server_name;
    // Bytes of publications held while Redis is unreachable and sent when it is back; 16 MiB
    // rides out a restart of a busy instance, beyond it publications are dropped and counted.
    std::size_t backplane_buffer_size = 16 * 1024 * 1024;
    // Where the PostgreSQL backplane creates its tables (routing/backplane_factory.hpp).
    std::string postgres_schema = "signalr";
    // Durable mode (docs/reliability.md): every publication kept this long in one log on the
    // backplane (Redis, NATS JetStream), so stateful connections resume on any instance; 0 is off.
    std::chrono::milliseconds durable_window{0};
    // Entries that log keeps at most whatever their age; a million covers 30 s at 33k/s.
    std::size_t durable_max_entries = 1'000'000;
    // Bytes of publications that log keeps at most, whatever their age: 1 GiB bounds Redis's
    // memory for it, 30 s at 33k/s of 1 KiB messages; 0 keeps no byte bound.
    std::size_t durable_max_bytes = std::size_t{1} << 30;
    // A group change for a connection on another instance fails after this long without ack.
    std::chrono::milliseconds group_ack_timeout{10'000};
    // Serves the demo app as `make build` leaves it; empty disables static files.
    std::string static_dir = "web/dist";
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
    std::chrono::milliseconds drain_timeout{5'000};
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
    // One log line per HTTP request (http::server_settings::access_log): off by default.
    bool access_log = false;
    hub_options hub;
    auth_options auth;
    // Event streams (docs/events.md); their queue limit is hub.send_queue_limit.
    events::events_options events;
    // Cluster-wide presence (who is online, group members): in Redis beside a Redis backplane,
    // in memory for a single instance. One script per connect, join, leave and disconnect.
    bool presence = true;
    // An instance silent this long is dead to presence queries (presence::store_options).
    std::chrono::milliseconds presence_expiry{15'000};
    // The REST API in Azure SignalR Service's shape (docs/rest-api.md); off without a key.
    api::rest_options rest;
};

}  // namespace switchboard
