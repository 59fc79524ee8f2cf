// What durable mode keeps of one stateful connection outside its instance: enough for any
// instance to take it over and number its messages exactly as the old one did.
#pragma once

#include "core/expected.hpp"
#include "protocol/codec.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::durable {

// A checkpoint: after the log entry `position`, the connection had been sent `sequence`
// trackable messages and was in `groups`. Replaying the log after `position` from this state
// reproduces every later message with its number (sessions.hpp says why).
struct session_record {
    std::string connection_id;
    std::string hub;  // the hub's bus name
    std::string user;
    protocol::wire_protocol protocol = protocol::wire_protocol::json;
    std::vector<std::string> groups;  // sorted, unique
    std::string position = "0-0";
    std::int64_t sequence = 0;
    // Bumped by every takeover: a write of an older owner fails its compare-and-set.
    std::uint64_t epoch = 0;
    std::string instance;  // the owner's server name

    friend bool operator==(const session_record&, const session_record&) = default;
};

[[nodiscard]] std::string encode_record(const session_record& record);
[[nodiscard]] expected<session_record> decode_record(std::string_view text);

// The record's key: a hash of the connection token, so that Redis holds nothing a client could
// present (the token is the only secret of a stateful reconnect).
[[nodiscard]] std::string record_key(std::string_view connection_token);

}  // namespace switchboard::routing::durable
