#include "protocol/json_protocol.hpp"

#include "protocol/json_text.hpp"
#include "protocol/text_framing.hpp"

#include <charconv>
#include <limits>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

namespace switchboard::protocol {

namespace json = boost::json;

namespace {

error missing_property(std::string_view name) {
    std::string message = "Missing required property '";
    message.append(name);
    message.append("'.");
    return make_error(std::move(message));
}

error wrong_type(std::string_view name, std::string_view type) {
    std::string message = "Expected '";
    message.append(name);
    message.append("' to be of type ");
    message.append(type);
    message.push_back('.');
    return make_error(std::move(message));
}

// The raw .NET JsonTokenType name, as in messages that come from Utf8JsonReader itself.
std::string_view raw_token_name(const json::value& value) noexcept {
    if (value.is_array()) {
        return "StartArray";
    }
    if (value.is_object()) {
        return "StartObject";
    }
    return json_token_name(value);
}

std::string to_std_string(const json::string& text) {
    return std::string(text.data(), text.size());
}

// What one pass over the object found; pointers refer into the parsed object, which outlives
// this and whose values are moved out once the message type is known.
struct message_fields {
    std::optional<int> type;
    json::string* invocation_id = nullptr;
    json::string* target = nullptr;
    json::string* error = nullptr;
    json::value* item = nullptr;
    json::value* result = nullptr;
    json::array* arguments = nullptr;
    json::array* stream_ids = nullptr;
    json::object* headers = nullptr;
    std::optional<std::int64_t> sequence_id;
    bool allow_reconnect = false;
};

// Checks each known property as ASP.NET's reader does while it walks the object, so a badly
// typed property fails even when the message type does not use it.
expected<void> read_fields(json::object& object, message_fields& fields) {
    for (auto& member : object) {
        const auto key = member.key();
        auto& value = member.value();
        if (key == "type") {
            // Int32 only: ASP.NET also rejects fractions, exponents and out-of-range numbers.
            const auto* number = value.if_int64();
            if (number == nullptr || *number < std::numeric_limits<int>::min() ||
                *number > std::numeric_limits<int>::max()) {
                return wrong_type("type", "Number");
            }
            fields.type = static_cast<int>(*number);
        } else if (key == "invocationId") {
            fields.invocation_id = value.if_string();
            if (fields.invocation_id == nullptr) {
                return wrong_type("invocationId", "String");
            }
        } else if (key == "target") {
            fields.target = value.if_string();
            if (fields.target == nullptr) {
                return wrong_type("target", "String");
            }
        } else if (key == "error") {
            fields.error = value.if_string();
            if (fields.error == nullptr) {
                return wrong_type("error", "String");
            }
        } else if (key == "arguments") {
            fields.arguments = value.if_array();
            if (fields.arguments == nullptr) {
                return wrong_type("arguments", "Array");
            }
        } else if (key == "streamIds") {
            fields.stream_ids = value.if_array();
            if (fields.stream_ids == nullptr) {
                return wrong_type("streamIds", "Array");
            }
            for (const auto& id : *fields.stream_ids) {
                if (id.is_null()) {
                    return make_error("Null value for 'streamIds' is not valid.");
                }
                if (!id.is_string()) {
                    std::string message = "Cannot get the value of a token type '";
                    message.append(raw_token_name(id));
                    message.append("' as a string.");
                    return make_error(std::move(message));
                }
            }
        } else if (key == "item") {
            fields.item = &value;
        } else if (key == "result") {
            fields.result = &value;
        } else if (key == "headers") {
            fields.headers = value.if_object();
            if (fields.headers == nullptr) {
                return wrong_type("headers", "StartObject");
            }
            for (const auto& header : *fields.headers) {
                if (!header.value().is_string()) {
                    std::string message = "Expected header '";
                    message.append(header.key());
                    message.append("' to be of type String.");
                    return make_error(std::move(message));
                }
            }
        } else if (key == "allowReconnect") {
            const auto* flag = value.if_bool();
            if (flag == nullptr) {
                return make_error("Expected 'allowReconnect' to be true or false.");
            }
            fields.allow_reconnect = *flag;
        } else if (key == "sequenceId") {
            // null leaves the id unset (.NET reads it as a nullable Int64).
            fields.sequence_id.reset();
            if (value.is_null()) {
                continue;
            }
            const auto* number = value.if_int64();
            if (number == nullptr) {
                return wrong_type("sequenceId", "Number");
            }
            fields.sequence_id = *number;
        }
    }
    return {};
}

bool empty(const json::string* text) {
    return text == nullptr || text->empty();
}

message_headers take_headers(json::object* headers) {
    message_headers result;
    if (headers == nullptr) {
        return result;
    }
    result.reserve(headers->size());
    for (const auto& header : *headers) {
        const auto& value = header.value().get_string();
        result.emplace_back(std::string(header.key()), to_std_string(value));
    }
    return result;
}

std::vector<std::string> take_stream_ids(const json::array* ids) {
    std::vector<std::string> result;
    if (ids == nullptr) {
        return result;
    }
    result.reserve(ids->size());
    for (const auto& id : *ids) {
        result.push_back(to_std_string(id.get_string()));
    }
    return result;
}

// The checks and their order follow ASP.NET's binders, so the first error matches.
expected<hub_message> build_message(message_fields& f) {
    switch (static_cast<message_type>(*f.type)) {
    case message_type::invocation: {
        if (empty(f.target)) {
            return missing_property("target");
        }
        if (f.arguments == nullptr) {
            return missing_property("arguments");
        }
        invocation_message m;
        m.headers = take_headers(f.headers);
        // An empty id asks for no Completion, exactly like a missing one.
        if (!empty(f.invocation_id)) {
            m.invocation_id = to_std_string(*f.invocation_id);
        }
        m.target = to_std_string(*f.target);
        m.arguments = std::move(*f.arguments);
        m.stream_ids = take_stream_ids(f.stream_ids);
        return hub_message(std::move(m));
    }
    case message_type::stream_invocation: {
        if (f.target == nullptr) {
            return missing_property("target");
        }
        if (empty(f.invocation_id)) {
            return missing_property("invocationId");
        }
        if (f.arguments == nullptr) {
            return missing_property("arguments");
        }
        if (f.target->empty()) {
            return missing_property("target");
        }
        stream_invocation_message m;
        m.headers = take_headers(f.headers);
        m.invocation_id = to_std_string(*f.invocation_id);
        m.target = to_std_string(*f.target);
        m.arguments = std::move(*f.arguments);
        m.stream_ids = take_stream_ids(f.stream_ids);
        return hub_message(std::move(m));
    }
    case message_type::stream_item: {
        if (empty(f.invocation_id)) {
            return missing_property("invocationId");
        }
        if (f.item == nullptr) {
            return missing_property("item");
        }
        stream_item_message m;
        m.headers = take_headers(f.headers);
        m.invocation_id = to_std_string(*f.invocation_id);
        m.item = std::move(*f.item);
        return hub_message(std::move(m));
    }
    case message_type::completion: {
        if (empty(f.invocation_id)) {
            return missing_property("invocationId");
        }
        if (f.error != nullptr && f.result != nullptr) {
            return make_error("The 'error' and 'result' properties are mutually exclusive.");
        }
        completion_message m;
        m.headers = take_headers(f.headers);
        m.invocation_id = to_std_string(*f.invocation_id);
        if (f.error != nullptr) {
            m.error = to_std_string(*f.error);
        }
        if (f.result != nullptr) {
            m.result = std::move(*f.result);
        }
        return hub_message(std::move(m));
    }
    case message_type::cancel_invocation: {
        if (empty(f.invocation_id)) {
            return missing_property("invocationId");
        }
        cancel_invocation_message m;
        m.headers = take_headers(f.headers);
        m.invocation_id = to_std_string(*f.invocation_id);
        return hub_message(std::move(m));
    }
    case message_type::ping:
        return hub_message(ping_message{});
    case message_type::close: {
        close_message m;
        if (f.error != nullptr) {
            m.error = to_std_string(*f.error);
        }
        m.allow_reconnect = f.allow_reconnect;
        return hub_message(std::move(m));
    }
    case message_type::ack:
        if (!f.sequence_id) {
            return missing_property("sequenceId");
        }
        return hub_message(ack_message{*f.sequence_id});
    case message_type::sequence:
        if (!f.sequence_id) {
            return missing_property("sequenceId");
        }
        return hub_message(sequence_message{*f.sequence_id});
    }
    // Newer protocol versions may add types; receivers skip what they do not know.
    return hub_message(unknown_message{*f.type});
}

void append_type(std::int64_t type, std::string& out) {
    out.append("{\"type\":");
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, type);
    out.append(buffer, result.ptr);
}

void append_headers(const message_headers& headers, std::string& out) {
    if (headers.empty()) {
        return;
    }
    out.append(",\"headers\":{");
    bool first = true;
    for (const auto& [name, value] : headers) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_string(name, out);
        out.push_back(':');
        append_json_string(value, out);
    }
    out.push_back('}');
}

void append_invocation_id(std::string_view id, std::string& out) {
    if (id.empty()) {
        return;
    }
    out.append(",\"invocationId\":");
    append_json_string(id, out);
}

void append_call(std::string_view target, const json::array& arguments,
                 const std::vector<std::string>& stream_ids, std::string& out) {
    out.append(",\"target\":");
    append_json_string(target, out);
    out.append(",\"arguments\":");
    append_json_array(arguments, out);
    if (!stream_ids.empty()) {
        out.append(",\"streamIds\":[");
        bool first = true;
        for (const auto& id : stream_ids) {
            if (!first) {
                out.push_back(',');
            }
            first = false;
            append_json_string(id, out);
        }
        out.push_back(']');
    }
}

void append_sequence_id(std::int64_t id, std::string& out) {
    out.append(",\"sequenceId\":");
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, id);
    out.append(buffer, result.ptr);
}

void append_body(const invocation_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::invocation), out);
    append_headers(m.headers, out);
    if (m.invocation_id) {
        append_invocation_id(*m.invocation_id, out);
    }
    append_call(m.target, m.arguments, m.stream_ids, out);
}

void append_body(const stream_invocation_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::stream_invocation), out);
    append_headers(m.headers, out);
    append_invocation_id(m.invocation_id, out);
    append_call(m.target, m.arguments, m.stream_ids, out);
}

void append_body(const stream_item_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::stream_item), out);
    append_headers(m.headers, out);
    append_invocation_id(m.invocation_id, out);
    out.append(",\"item\":");
    append_json_value(m.item, out);
}

void append_body(const completion_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::completion), out);
    append_headers(m.headers, out);
    append_invocation_id(m.invocation_id, out);
    // Never both: an error wins, as a completion cannot carry the two.
    if (m.error) {
        out.append(",\"error\":");
        append_json_string(*m.error, out);
    } else if (m.result) {
        out.append(",\"result\":");
        append_json_value(*m.result, out);
    }
}

void append_body(const cancel_invocation_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::cancel_invocation), out);
    append_headers(m.headers, out);
    append_invocation_id(m.invocation_id, out);
}

void append_body(const ping_message&, std::string& out) {
    append_type(static_cast<int>(message_type::ping), out);
}

void append_body(const close_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::close), out);
    if (m.error) {
        out.append(",\"error\":");
        append_json_string(*m.error, out);
    }
    if (m.allow_reconnect) {
        out.append(",\"allowReconnect\":true");
    }
}

void append_body(const ack_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::ack), out);
    append_sequence_id(m.sequence_id, out);
}

void append_body(const sequence_message& m, std::string& out) {
    append_type(static_cast<int>(message_type::sequence), out);
    append_sequence_id(m.sequence_id, out);
}

void append_body(const unknown_message& m, std::string& out) {
    append_type(m.type, out);
}

}  // namespace

expected<hub_message> parse_json_message(std::string_view record) {
    auto object = read_json_object(record);
    if (!object) {
        return object.get_error();
    }
    message_fields fields;
    if (auto read = read_fields(*object, fields); !read) {
        return read.get_error();
    }
    if (!fields.type) {
        return missing_property("type");
    }
    return build_message(fields);
}

void write_json_message(const hub_message& message, std::string& out) {
    std::visit([&out](const auto& m) { append_body(m, out); }, message);
    out.push_back('}');
    out.push_back(record_separator);
}

void write_json_invocation(std::string_view target, const json::array& arguments,
                           std::string& out) {
    out.append("{\"type\":1,\"target\":");
    append_json_string(target, out);
    out.append(",\"arguments\":");
    append_json_array(arguments, out);
    out.push_back('}');
    out.push_back(record_separator);
}

}  // namespace switchboard::protocol
