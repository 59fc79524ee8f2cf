// The negotiate exchange (spec §2.3) as pure functions over text: query strings in, the
// negotiate response out. No sockets, so they are unit- and fuzz-tested alone.
#pragma once

#include "core/expected.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::transport {

// Decoded (name, value) pairs in request order; names repeat as the client sent them.
using query_parameters = std::vector<std::pair<std::string, std::string>>;

// The query of an origin-form request target ("/hub?id=a%2Fb"); empty when it is malformed.
query_parameters parse_query(std::string_view target);

// The first value named `name`, compared case-insensitively as ASP.NET reads them; null if none.
const std::string* find_parameter(const query_parameters& parameters, std::string_view name);

// Transports an endpoint offers (ASP.NET's HttpTransportType bit values).
enum transport_set : unsigned {
    websockets_transport = 1,
    server_sent_events_transport = 2,
    long_polling_transport_bit = 4,
    all_transports = 7,
};

struct negotiate_request {
    int version = 0;                  // 0 or 1: the newest both sides speak
    bool stateful_reconnect = false;  // the client asked (useStatefulReconnect=true)
};

// What the client asked for; the error is ASP.NET's text for a non-integer negotiateVersion.
expected<negotiate_request> parse_negotiate_request(const query_parameters& parameters);

// The negotiate response body for a version (0 or 1), issued identifiers and offered
// transports.
std::string make_negotiate_response(int negotiate_version, std::string_view connection_id,
                                    std::string_view token, unsigned transports = all_transports,
                                    bool stateful_reconnect = false);

}  // namespace switchboard::transport
