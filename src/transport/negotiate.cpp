#include "transport/negotiate.hpp"

#include "core/ascii.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>

namespace switchboard::transport {

query_parameters parse_query(std::string_view target) {
    query_parameters out;
    auto url = boost::urls::parse_origin_form(target);
    if (!url) {
        return out;
    }
    for (const auto param : url->params()) {
        out.emplace_back(param.key, param.value);
    }
    return out;
}

const std::string* find_parameter(const query_parameters& parameters, std::string_view name) {
    for (const auto& [key, value] : parameters) {
        if (ascii_iequals(key, name)) {
            return &value;
        }
    }
    return nullptr;
}

expected<negotiate_request> parse_negotiate_request(const query_parameters& parameters) {
    negotiate_request out;
    if (const auto* requested = find_parameter(parameters, "negotiateVersion")) {
        int parsed = 0;
        const auto* end = requested->data() + requested->size();
        const auto [ptr, ec] = std::from_chars(requested->data(), end, parsed);
        if (ec != std::errc{} || ptr != end) {
            return make_error("The client requested a non-integer protocol version.");
        }
        // Version 1 is the newest this server (and ASP.NET) speaks; newer clients get 1.
        out.version = parsed >= 1 ? 1 : 0;
    }
    const auto* stateful = find_parameter(parameters, "useStatefulReconnect");
    out.stateful_reconnect = stateful != nullptr && (*stateful == "true" || *stateful == "True");
    return out;
}

std::string make_negotiate_response(int negotiate_version, std::string_view connection_id,
                                    std::string_view token, unsigned transports,
                                    bool stateful_reconnect) {
    // ASP.NET writes useStatefulReconnect first, and only when the client asked for it.
    std::string out = stateful_reconnect ? "{\"useStatefulReconnect\":true," : "{";
    out += "\"negotiateVersion\":" + std::to_string(negotiate_version) +
           ",\"connectionId\":" + boost::json::serialize(boost::json::string(connection_id));
    if (negotiate_version > 0) {
        out += ",\"connectionToken\":" + boost::json::serialize(boost::json::string(token));
    }
    // Clients try transports in this order, so the fastest comes first.
    out += ",\"availableTransports\":[";
    bool first = true;
    const auto add = [&](std::string_view entry) {
        out += first ? "" : ",";
        out += entry;
        first = false;
    };
    if (transports & websockets_transport) {
        add(R"({"transport":"WebSockets","transferFormats":["Text","Binary"]})");
    }
    if (transports & server_sent_events_transport) {
        add(R"({"transport":"ServerSentEvents","transferFormats":["Text"]})");
    }
    if (transports & long_polling_transport_bit) {
        add(R"({"transport":"LongPolling","transferFormats":["Text","Binary"]})");
    }
    out += "]}";
    return out;
}

}  // namespace switchboard::transport
