// What a hub_connection is built with: transports, protocol, credentials, TLS, timeouts and the
// reconnect policy. Every default is the official clients' unless its comment says otherwise.
#pragma once

#include "client/transport/transport.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::client {

enum class hub_protocol : unsigned char { json, messagepack };

// What a reconnect policy is asked before each attempt.
struct retry_context {
    std::size_t previous_retry_count = 0;
    std::chrono::milliseconds elapsed{0};  // since the connection was lost
    std::string retry_reason;              // why it was lost
};

// The delay before the next attempt, or nullopt to give up (on_closed follows).
using reconnect_policy =
    std::function<std::optional<std::chrono::milliseconds>(const retry_context&)>;

// 0, 2, 10 and 30 seconds, then give up: the official clients' withAutomaticReconnect().
reconnect_policy default_reconnect_policy();
// One attempt after each of `delays`, then give up.
reconnect_policy reconnect_delays(std::vector<std::chrono::milliseconds> delays);

struct hub_connection_options {
    // The transports to try, in the server's order (WebSockets, Server-Sent Events, long
    // polling); MessagePack never picks Server-Sent Events, which carry text only.
    transport_type transports = transport_type::all;
    hub_protocol protocol = hub_protocol::json;
    // Connects the WebSocket straight to the hub URL, without negotiate; needs transports ==
    // websockets. The server then knows no connection id to report and no redirect can happen.
    bool skip_negotiation = false;
    // Sent on every HTTP request and the WebSocket upgrade.
    std::vector<std::pair<std::string, std::string>> headers;
    // Called before every connect and reconnect; what it returns goes out as a bearer token.
    // An empty string sends none; an exception fails that attempt with its message.
    std::function<std::string()> access_token_provider;
    // TLS: the server's certificate is checked against the system's CAs (and `ca_file`, a PEM
    // bundle, when set) and its host name. Turning verification off is for tests only.
    bool verify_certificate = true;
    std::string ca_file;
    // Unset: a lost connection is closed for good (on_closed). Set: on_reconnecting, attempts
    // as the policy says, then on_reconnected or on_closed. default_reconnect_policy() matches
    // the official clients.
    std::optional<reconnect_policy> automatic_reconnect;
    // Asks the server to keep the connection across a dropped WebSocket: the client resends
    // what the server has not acknowledged and the server does the same, so nothing is lost.
    bool stateful_reconnect = false;
    // Unacknowledged bytes kept for stateful reconnect; sends wait for acks beyond it.
    std::size_t stateful_reconnect_buffer_size = 100'000;
    // A Ping goes out when nothing else was sent for this long (not on long polling).
    std::chrono::milliseconds keep_alive_interval{15'000};
    // The connection is lost when nothing arrives for this long (not on long polling).
    std::chrono::milliseconds server_timeout{30'000};
    std::chrono::milliseconds handshake_timeout{15'000};
    // Negotiate, POSTs and DELETE.
    std::chrono::milliseconds http_timeout{100'000};
    // The largest message accepted from the server; larger ends the connection with an error.
    // Ours, not the official clients' (which have none): a bound on what a bad server can make
    // us buffer.
    std::size_t max_message_size = 16 * 1024 * 1024;
    // Bytes of sends waiting for the transport; a send beyond it fails at once instead of
    // queueing without bound. Ours as well.
    std::size_t max_buffered_bytes = 16 * 1024 * 1024;
};

}  // namespace switchboard::client
