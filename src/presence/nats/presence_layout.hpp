// The NATS KV layout of presence: key names (every name encoded into the characters KV keys
// allow) and the values stored under them. Pure functions, no cnats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::presence::nats {

// One token of a key: [A-Za-z0-9-] stay, every other byte becomes "_XX" (hex), and the empty
// string is "=" (which no encoding produces otherwise). Injective, so no name can alias another.
std::string encode_token(std::string_view name);
// The name of a token encode_token made (anything else decodes to some string, never throws).
std::string decode_token(std::string_view token);

// Keys under `root` (the encoded key prefix); see docs/presence.md for the table.
struct layout {
    explicit layout(std::string_view key_prefix) : root(encode_token(key_prefix)) {}

    [[nodiscard]] std::string heartbeat(std::string_view incarnation) const;
    [[nodiscard]] std::string heartbeats() const;  // filter: every incarnation's heartbeat
    [[nodiscard]] std::string index(std::string_view incarnation, std::string_view hub,
                                    std::string_view connection) const;
    [[nodiscard]] std::string index_of(std::string_view incarnation) const;  // filter
    [[nodiscard]] std::string user(std::string_view hub, std::string_view user) const;
    [[nodiscard]] std::string users(std::string_view hub) const;  // filter
    [[nodiscard]] std::string member(std::string_view hub, std::string_view group,
                                     std::string_view connection) const;
    [[nodiscard]] std::string members(std::string_view hub, std::string_view group) const;
    [[nodiscard]] std::string state(std::string_view key) const;

    std::string root;
};

// A user's record: every connection of the user on any instance, and whether the user was
// reported online (the guard that makes the online and offline reports once per user).
struct user_record {
    struct connection {
        std::string id;
        std::string incarnation;
        std::uint64_t connected_at_ms = 0;
    };
    std::string user;
    bool reported = false;
    std::vector<connection> connections;  // at most one per id
};

// What an instance writes per connection it holds, for whoever reaps it once it died.
struct index_entry {
    std::string hub;
    std::string connection;
    std::string user;
    std::vector<std::string> groups;
};

// A group member: the key names the connection.
struct member_entry {
    std::string incarnation;
    std::uint64_t connected_at_ms = 0;
    std::string user;
};

// A shared state value and its deadline (Unix ms of the server's clock, 0: none).
struct state_value {
    std::uint64_t deadline_ms = 0;
    std::string value;
};

// Values are fields of "<length>:<bytes>", so any bytes fit. Parsers return nullopt on
// anything else (a value another program wrote).
std::string encode(const user_record& record);
std::optional<user_record> decode_user(std::string_view text);
std::string encode(const index_entry& entry);
std::optional<index_entry> decode_index(std::string_view text);
std::string encode(const member_entry& entry);
std::optional<member_entry> decode_member(std::string_view text);
std::string encode(const state_value& entry);
std::optional<state_value> decode_state(std::string_view text);

}  // namespace switchboard::presence::nats
