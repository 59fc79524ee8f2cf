// What the NATS backplane and the NATS presence store share of cnats: the library opened once,
// status checks that name what cnats refused, a connection string applied to cnats options, and
// subscriptions freed only when cnats is done with them.
#pragma once

#include "routing/nats/connection_string.hpp"

#include <nats/nats.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string_view>
#include <utility>

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

// Subscriptions closed while their connection is open, freed a second later: cnats 3.4's
// reader thread can still hold a subscription it looked up just before the unsubscribe, and
// natsSubscription_Destroy at once freed it under that thread (valgrind showed it; release
// builds aborted with heap corruption). Any thread; free_all() once the connection is closed,
// since natsConnection_Close joins the reader.
class retired_subscriptions {
public:
    retired_subscriptions() = default;
    ~retired_subscriptions() { free_all(); }
    retired_subscriptions(const retired_subscriptions&) = delete;
    retired_subscriptions& operator=(const retired_subscriptions&) = delete;

    // Unsubscribes now (outside the lock: it writes to the connection), frees it later.
    void retire(natsSubscription* subscription);
    void free_all();

private:
    using clock = std::chrono::steady_clock;
    // A second is ages to a reader thread between a lookup and its use.
    static constexpr std::chrono::seconds grace{1};
    void free_retired_before(clock::time_point before);  // holds mutex_

    std::mutex mutex_;
    std::deque<std::pair<natsSubscription*, clock::time_point>> retired_;  // oldest first
};

}  // namespace switchboard::routing::nats
