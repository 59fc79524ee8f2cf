#include "routing/durable/session_record.hpp"

#include <openssl/sha.h>
#include <boost/json.hpp>

#include <array>

namespace switchboard::routing::durable {

std::string encode_record(const session_record& record) {
    boost::json::array groups;
    for (const auto& group : record.groups) {
        groups.emplace_back(group);
    }
    return boost::json::serialize(boost::json::object{
        {"connection", record.connection_id},
        {"hub", record.hub},
        {"user", record.user},
        {"protocol", record.protocol == protocol::wire_protocol::json ? "json" : "messagepack"},
        {"groups", std::move(groups)},
        {"position", record.position},
        {"sequence", record.sequence},
        {"epoch", record.epoch},
        {"instance", record.instance},
    });
}

expected<session_record> decode_record(std::string_view text) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(text, ec);
    if (ec || !parsed.is_object()) {
        return make_error("session record is not a JSON object");
    }
    const auto& object = parsed.as_object();
    const auto string_of = [&](std::string_view name) -> const boost::json::string* {
        const auto* value = object.if_contains(name);
        return value != nullptr && value->is_string() ? &value->get_string() : nullptr;
    };
    const auto* connection = string_of("connection");
    const auto* hub = string_of("hub");
    const auto* user = string_of("user");
    const auto* protocol_name = string_of("protocol");
    const auto* position = string_of("position");
    const auto* instance = string_of("instance");
    const auto* groups = object.if_contains("groups");
    const auto* sequence = object.if_contains("sequence");
    const auto* epoch = object.if_contains("epoch");
    if (connection == nullptr || hub == nullptr || user == nullptr || protocol_name == nullptr ||
        position == nullptr || instance == nullptr || groups == nullptr || !groups->is_array() ||
        sequence == nullptr || !sequence->is_int64() || epoch == nullptr ||
        !(epoch->is_uint64() || epoch->is_int64())) {
        return make_error("session record lacks a field");
    }
    session_record record;
    record.connection_id = *connection;
    record.hub = *hub;
    record.user = *user;
    if (*protocol_name == "json") {
        record.protocol = protocol::wire_protocol::json;
    } else if (*protocol_name == "messagepack") {
        record.protocol = protocol::wire_protocol::messagepack;
    } else {
        return make_error("session record names an unknown protocol");
    }
    for (const auto& group : groups->get_array()) {
        if (!group.is_string()) {
            return make_error("session record has a group that is not a string");
        }
        record.groups.emplace_back(group.get_string());
    }
    record.position = *position;
    record.sequence = sequence->get_int64();
    record.epoch =
        epoch->is_uint64() ? epoch->get_uint64() : static_cast<std::uint64_t>(epoch->get_int64());
    record.instance = *instance;
    return record;
}

std::string record_key(std::string_view connection_token) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(connection_token.data()), connection_token.size(),
           digest.data());
    static constexpr char hex[] = "0123456789abcdef";
    std::string key;
    key.reserve(digest.size() * 2);
    for (const auto byte : digest) {
        key.push_back(hex[byte >> 4]);
        key.push_back(hex[byte & 0x0f]);
    }
    return key;
}

}  // namespace switchboard::routing::durable
