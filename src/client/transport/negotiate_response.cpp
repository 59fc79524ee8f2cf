// parse_negotiate_response, apart from the request code: no Asio, so the fuzzer builds it alone.
#include "client/transport/negotiate_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace switchboard::client::detail {

namespace json = boost::json;

namespace {

// A member that, when present, must be a string; nullptr when absent.
expected<const json::string*> optional_string(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr) {
        return static_cast<const json::string*>(nullptr);
    }
    if (const auto* text = value->if_string()) {
        return text;
    }
    return make_error("Invalid negotiate response: '" + std::string(key) + "' is not a string.");
}

transport_type transport_from_name(std::string_view name) {
    for (auto type : {transport_type::websockets, transport_type::server_sent_events,
                      transport_type::long_polling}) {
        if (name == transport_name(type)) {
            return type;
        }
    }
    return transport_type::none;
}

expected<std::vector<available_transport>> parse_transports(const json::value& value) {
    const auto* list = value.if_array();
    if (list == nullptr) {
        return make_error("Invalid negotiate response: 'availableTransports' is not an array.");
    }
    std::vector<available_transport> transports;
    transports.reserve(list->size());
    for (const auto& item : *list) {
        const auto* entry = item.if_object();
        if (entry == nullptr) {
            return make_error(
                "Invalid negotiate response: an entry of 'availableTransports' is not an object.");
        }
        const auto* name = entry->if_contains("transport");
        if (name == nullptr || !name->is_string()) {
            return make_error(
                "Invalid negotiate response: an available transport has no 'transport' name.");
        }
        available_transport transport;
        transport.type = transport_from_name(name->get_string());
        if (const auto* formats = entry->if_contains("transferFormats")) {
            const auto* format_list = formats->if_array();
            if (format_list == nullptr) {
                return make_error("Invalid negotiate response: 'transferFormats' is not an array.");
            }
            for (const auto& format : *format_list) {
                const auto* text = format.if_string();
                if (text == nullptr) {
                    return make_error(
                        "Invalid negotiate response: a transfer format is not a string.");
                }
                transport.text = transport.text || *text == "Text";
                transport.binary = transport.binary || *text == "Binary";
            }
        }
        transports.push_back(transport);
    }
    return transports;
}

}  // namespace

expected<negotiate_response> parse_negotiate_response(std::string_view body) {
    boost::system::error_code ec;
    const auto value = json::parse(body, ec);
    if (ec) {
        return make_error("Invalid negotiate response: not JSON (" + ec.message() + ").");
    }
    const auto* object = value.if_object();
    if (object == nullptr) {
        return make_error("Invalid negotiate response: not a JSON object.");
    }
    // The server's own error: the caller sees exactly its text.
    auto error = optional_string(*object, "error");
    if (!error) {
        return error.get_error();
    }
    if (*error != nullptr) {
        return make_error(std::string(**error));
    }

    negotiate_response response;
    auto url = optional_string(*object, "url");
    if (!url) {
        return url.get_error();
    }
    auto token = optional_string(*object, "accessToken");
    if (!token) {
        return token.get_error();
    }
    if (*url != nullptr) {
        response.url = std::string(**url);
        if (*token != nullptr) {
            response.access_token = std::string(**token);
        }
        return response;  // a redirect: nothing else applies
    }

    if (const auto* version = object->if_contains("negotiateVersion")) {
        if (const auto* number = version->if_int64()) {
            // Clamped: only "below 1" and "1 or more" matter, and an int is what is kept.
            response.negotiate_version = *number < 0 ? 0 : *number > 1'000 ? 1'000 : int(*number);
        } else if (const auto* big = version->if_uint64()) {
            response.negotiate_version = *big > 1'000 ? 1'000 : int(*big);
        } else {
            return make_error("Invalid negotiate response: 'negotiateVersion' is not an integer.");
        }
    }
    auto id = optional_string(*object, "connectionId");
    if (!id) {
        return id.get_error();
    }
    if (*id == nullptr) {
        return make_error("Invalid negotiate response: 'connectionId' is missing.");
    }
    response.connection_id = std::string(**id);
    if (response.negotiate_version >= 1) {
        auto connection_token = optional_string(*object, "connectionToken");
        if (!connection_token) {
            return connection_token.get_error();
        }
        if (*connection_token == nullptr) {
            return make_error("Invalid negotiate response: 'connectionToken' is missing.");
        }
        response.connection_token = std::string(**connection_token);
    } else {
        // Version 0 servers have no separate token: the id is what goes into ?id=.
        response.connection_token = response.connection_id;
    }
    // Absent reads as none offered, so the caller reports that no transport fits.
    if (const auto* transports = object->if_contains("availableTransports")) {
        auto parsed = parse_transports(*transports);
        if (!parsed) {
            return parsed.get_error();
        }
        response.transports = std::move(*parsed);
    }
    if (const auto* stateful = object->if_contains("useStatefulReconnect")) {
        if (!stateful->is_bool()) {
            return make_error(
                "Invalid negotiate response: 'useStatefulReconnect' is not a boolean.");
        }
        response.use_stateful_reconnect = stateful->get_bool();
    }
    return response;
}

}  // namespace switchboard::client::detail
