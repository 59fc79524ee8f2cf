#include "protocol/handshake.hpp"

#include "core/utf8.hpp"
#include "protocol/json_text.hpp"
#include "protocol/text_framing.hpp"

#include <limits>
#include <utility>

namespace switchboard::protocol {

namespace json = boost::json;

namespace {

error missing_property(std::string_view name, std::string_view record) {
    std::string message = "Missing required property '";
    message.append(name);
    message.append("'. Message content: ");
    // The record may continue past the JSON object with any bytes; the error goes back as JSON.
    message.append(is_valid_utf8(record) ? std::string(record) : to_valid_utf8(record));
    return make_error(std::move(message));
}

}  // namespace

expected<handshake_request> parse_handshake_request(std::string_view record) {
    auto object = read_json_object(record);
    if (!object) {
        return object.get_error();
    }

    // Properties apply in document order and a later duplicate replaces an earlier one; the
    // object keeps the last value of a duplicated key, which gives the same result.
    const json::string* protocol = nullptr;
    // A plain flag rather than std::optional: GCC 12 reports a false maybe-uninitialized.
    bool has_version = false;
    std::int64_t version = 0;
    for (const auto& member : *object) {
        const auto key = member.key();
        const auto& value = member.value();
        if (key == "protocol") {
            protocol = value.if_string();
            if (protocol == nullptr) {
                return make_error("Expected 'protocol' to be of type String.");
            }
        } else if (key == "version") {
            // null means "no version", as .NET's ReadAsInt32 returns null for it; a Number must
            // also fit an Int32 (a fraction or an exponent does not).
            has_version = false;
            if (value.is_null()) {
                continue;
            }
            const auto* number = value.if_int64();
            if (number == nullptr || *number < std::numeric_limits<std::int32_t>::min() ||
                *number > std::numeric_limits<std::int32_t>::max()) {
                return make_error("Expected 'version' to be of type Number.");
            }
            version = *number;
            has_version = true;
        }
    }

    if (protocol == nullptr) {
        return missing_property("protocol", record);
    }
    if (!has_version) {
        return missing_property("version", record);
    }
    return handshake_request{std::string(protocol->data(), protocol->size()), version};
}

void write_handshake_response(std::optional<std::string_view> error, std::string& out) {
    if (error) {
        out.append("{\"error\":");
        append_json_string(*error, out);
        out.push_back('}');
    } else {
        out.append("{}");
    }
    out.push_back(record_separator);
}

}  // namespace switchboard::protocol
