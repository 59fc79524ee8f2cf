// What `switchboard chat` is run with, the checks on its flags, and its exit statuses.
#pragma once

#include "client/hub_connection_options.hpp"
#include "core/expected.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::chat {

struct chat_options {
    std::string url = "http://localhost:5000/hubs/chat";
    // Sent as the `user` query parameter, the user id of a server in development mode.
    std::string user;
    // A bearer token for servers with JWT authentication.
    std::string token;
    client::transport_type transports = client::transport_type::all;
    client::hub_protocol protocol = client::hub_protocol::json;
    // Colour is used only when this is set and stdout is a terminal.
    bool color = true;
    bool verify_certificate = true;
    // Waits before each reconnect attempt, then give up: the official clients' 0, 2, 10, 30 s.
    std::vector<std::chrono::milliseconds> reconnect_delays{
        std::chrono::milliseconds{0}, std::chrono::seconds{2}, std::chrono::seconds{10},
        std::chrono::seconds{30}};
};

// Exit statuses of run_chat.
inline constexpr int exit_ok = 0;            // /quit or end of input
inline constexpr int exit_start_failed = 1;  // the connection could not be started
inline constexpr int exit_usage = 2;         // bad flags
inline constexpr int exit_closed = 3;        // the connection closed for good

// "0,2s,10s,30s": durations separated by commas; "none" for no reconnect at all.
expected<std::vector<std::chrono::milliseconds>> parse_reconnect_delays(std::string_view text);
// "websockets", "sse", "longpolling" or "auto" as transport flags.
expected<client::transport_type> parse_transport(std::string_view name);
// `url` with `user=<user>` added to its query (unchanged when `user` is empty); an error for
// what is not an http(s) or ws(s) URL.
expected<std::string> chat_url(std::string_view url, std::string_view user);

}  // namespace switchboard::chat
