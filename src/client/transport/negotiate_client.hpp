// The client side of negotiate: the response parser (untrusted input, fuzzed) and the request
// that follows redirects as the official clients do.
#pragma once

#include "client/transport/transport.hpp"
#include "core/expected.hpp"

#include <boost/url/url.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::client::detail {

struct available_transport {
    transport_type type = transport_type::none;  // none for a name this client does not know
    bool text = false;
    bool binary = false;
};

// One negotiate response body, as the server wrote it.
struct negotiate_response {
    int negotiate_version = 0;
    std::string connection_id;
    std::string connection_token;                 // equals connection_id below version 1
    std::vector<available_transport> transports;  // in the server's order
    bool use_stateful_reconnect = false;
    std::optional<std::string> url;           // a redirect
    std::optional<std::string> access_token;  // comes with a redirect
};

// Parses a body: a redirect, a connection, or the server's {"error": "..."} as an error with its
// text. Anything else (not JSON, wrong types, no connectionId) is an error naming what is wrong.
expected<negotiate_response> parse_negotiate_response(std::string_view body);

// Where negotiate led: the hub URL to connect to (the last redirect's), the token to send from
// now on (a redirect's accessToken replaces the caller's), and the connection.
struct negotiation {
    boost::urls::url hub_url;
    std::optional<std::string> access_token;
    negotiate_response response;
};

// POSTs <hub>/negotiate?negotiateVersion=1[&useStatefulReconnect=true] (keeping the hub URL's
// own query), follows up to 100 redirects, and reports the outcome on context.executor. Errors
// read as the JS client's: "Failed to complete negotiation with the server: ...",
// "Negotiate redirection limit exceeded.", or the server's own error text.
void negotiate(const http_context& context, boost::urls::url hub_url, bool stateful_reconnect,
               std::function<void(expected<negotiation>)> handler);

}  // namespace switchboard::client::detail
