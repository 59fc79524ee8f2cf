// libFuzzer target for negotiate and connect request targets: the query parser, the negotiate
// request (version, stateful reconnect), and the response built from them, which must always be
// valid JSON with the members the clients read.
#include "transport/negotiate.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::transport;
    const std::string target =
        "/hubs/chat/negotiate?" + std::string(reinterpret_cast<const char*>(data), size);

    const auto parameters = parse_query(target);
    for (const char* name : {"id", "negotiateVersion", "useStatefulReconnect", "access_token"}) {
        if (const auto* value = find_parameter(parameters, name);
            value != nullptr && value->size() > target.size()) {
            std::abort();  // decoding only shrinks
        }
    }
    const auto request = parse_negotiate_request(parameters);
    if (!request) {
        return 0;
    }
    if (request->version != 0 && request->version != 1) {
        std::abort();
    }
    // Identifiers come from the server, but the id of a connect request comes from the client.
    const auto* id = find_parameter(parameters, "id");
    const std::string connection_id = id != nullptr ? *id : "connection";
    const auto body = make_negotiate_response(request->version, connection_id, connection_id,
                                              all_transports, request->stateful_reconnect);
    boost::system::error_code ec;
    const auto json = boost::json::parse(body, ec);
    if (ec) {
        return 0;  // an id that is not UTF-8: the server never issues one
    }
    const auto& object = json.as_object();
    if (!object.contains("connectionId") || !object.contains("availableTransports") ||
        object.at("negotiateVersion").as_int64() != request->version ||
        object.contains("connectionToken") != (request->version == 1)) {
        std::abort();
    }
    return 0;
}
