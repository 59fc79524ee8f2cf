// What the NATS backplane and the NATS presence store share of cnats: the library opened once,
// status checks that name what cnats refused, and a connection string applied to cnats options.
#pragma once

#include "routing/nats/connection_string.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstddef>
#include <string_view>

namespace switchboard::routing::nats {

// Once per process; throws std::runtime_error when cnats cannot start.
void open_library();

// Throws std::invalid_argument "<context> <what>: <status> (<cnats' detail>)" unless NATS_OK:
// at startup, so a bad connection string stops the server with the reason.
void check(natsStatus status, std::string_view context, std::string_view what);

// The servers, credentials (user and password, token or creds file) and TLS settings of `c`;
// the caller adds what is its own (name, timeouts, callbacks). Throws as check().
void apply_connection(natsOptions* options, const connection_options& c, std::string_view context);

// How a connection retries: a connect timeout, rounds `wait` apart plus up to `jitter`
// (`jitter_tls` over TLS), and what cnats holds for the server meanwhile. Throws as check().
struct reconnect_policy {
    std::chrono::milliseconds connect_timeout;
    std::chrono::milliseconds wait;
    std::chrono::milliseconds jitter;
    std::chrono::milliseconds jitter_tls;
    std::size_t buffer_bytes;
};
void apply_reconnect(natsOptions* options, const reconnect_policy& policy,
                     std::string_view context);

// Reconnects for ever (the first connect too, in the background), reporting to `closure`
// through these callbacks; `connected` runs for the first connect. Last: from here on the
// options hold `closure`, which the closed callback (the connection's last) releases.
struct lifecycle_callbacks {
    natsConnectionHandler connected;
    natsConnectionHandler disconnected;
    natsConnectionHandler reconnected;
    natsConnectionHandler closed;
};
void apply_lifecycle(natsOptions* options, const lifecycle_callbacks& callbacks, void* closure,
                     std::string_view context);

}  // namespace switchboard::routing::nats
