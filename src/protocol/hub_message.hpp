// Hub protocol messages: the in-memory form of every SignalR hub message, independent of its
// encoding.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace switchboard::protocol {

// Numeric message types of the hub protocol (HubProtocol.md); the wire uses these values.
enum class message_type : int {
    invocation = 1,
    stream_item = 2,
    completion = 3,
    stream_invocation = 4,
    cancel_invocation = 5,
    ping = 6,
    close = 7,
    ack = 8,
    sequence = 9,
};

// Headers keep the order they arrived in; receivers may ignore them.
using message_headers = std::vector<std::pair<std::string, std::string>>;

// Arguments and results are JSON values; the MessagePack protocol maps to and from them.
using hub_value = boost::json::value;

struct invocation_message {
    message_headers headers;
    std::optional<std::string> invocation_id;  // absent: the caller expects no Completion
    std::string target;
    boost::json::array arguments;
    std::vector<std::string> stream_ids;  // upload streams the caller will send
};

struct stream_invocation_message {
    message_headers headers;
    std::string invocation_id;
    std::string target;
    boost::json::array arguments;
    std::vector<std::string> stream_ids;
};

struct stream_item_message {
    message_headers headers;
    std::string invocation_id;
    hub_value item;
};

// Exactly one of: error, result, or neither (a void completion, written without "result").
struct completion_message {
    message_headers headers;
    std::string invocation_id;
    std::optional<std::string> error;
    std::optional<hub_value> result;

    static completion_message with_result(std::string id, hub_value value) {
        completion_message m;
        m.invocation_id = std::move(id);
        m.result = std::move(value);
        return m;
    }
    static completion_message with_error(std::string id, std::string error) {
        completion_message m;
        m.invocation_id = std::move(id);
        m.error = std::move(error);
        return m;
    }
    static completion_message empty(std::string id) {
        completion_message m;
        m.invocation_id = std::move(id);
        return m;
    }
};

struct cancel_invocation_message {
    message_headers headers;
    std::string invocation_id;
};

struct ping_message {};

struct close_message {
    std::optional<std::string> error;  // written whenever present, even when empty
    bool allow_reconnect = false;      // written only when true
};

struct ack_message {
    std::int64_t sequence_id = 0;
};

struct sequence_message {
    std::int64_t sequence_id = 0;
};

// A message of a type this server does not know; receivers ignore it (forward compatibility).
struct unknown_message {
    std::int64_t type = 0;
};

using hub_message = std::variant<invocation_message, stream_invocation_message, stream_item_message,
                                 completion_message, cancel_invocation_message, ping_message,
                                 close_message, ack_message, sequence_message, unknown_message>;

}  // namespace switchboard::protocol
