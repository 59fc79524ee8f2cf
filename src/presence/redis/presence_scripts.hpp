// The Redis presence store's data layout and its Lua scripts: each update or query is one
// script, so it is atomic and one round trip. Pure text and reply parsing, no sockets.
#pragma once

#include "presence/presence_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis

namespace switchboard::presence::redis {

// Layout, under base = <key_prefix> "{switchboard:presence}:" (one Cluster slot) and, per hub,
// h = base <len(hub)> ":" <hub> ":" (length-prefixed, so no hub name can alias another's keys):
//   base "instances"     ZSET incarnation -> last heartbeat (Redis TIME, ms)
//   base "i:" <instance> SET  "<hub>\x1f<connection>\x1f<user>" it holds (what a reaper deletes)
//   h "users"            SET  users reported online (the guard that makes each change once)
//   h "u:" <user>        HASH connection -> "<instance>\x1f<connected ms>"
//   h "g:" <group>       HASH connection -> "<instance>\x1f<connected ms>\x1f<user>"
//   h "c:" <connection>  SET  the connection's groups
//   base "state:" <key>  STRING shared state of hubs (store::state_*), with its own TTL
// An entry is live while its instance's heartbeat is younger than the expiry; queries skip the
// others, so a dead instance's entries vanish from answers before anyone deletes them.
// Times are Redis's own clock (TIME): instances' clocks never disagree about liveness.
struct script {
    std::string_view name;
    std::string_view text;
    std::string sha1;  // of `text`, hex: EVALSHA, then EVAL once after NOSCRIPT
};

const script& add_script();
const script& remove_script();
const script& join_script();
const script& leave_script();
const script& heartbeat_script();
const script& users_script();
const script& entries_script();
const script& online_script();
const script& compare_and_set_script();
// Every script, for SCRIPT LOAD after a connect.
std::vector<const script*> all_scripts();

// "base" for a key prefix.
std::string key_base(std::string_view key_prefix);
// "h" for a hub under `base`.
std::string hub_base(std::string_view base, std::string_view hub);

// EVALSHA <sha> 0 <arguments...>
std::vector<std::string> evalsha_command(const script& s, std::vector<std::string> arguments);
// SCRIPT LOAD <text>
std::vector<std::string> load_command(const script& s);
// EVAL <text> 0 <arguments...>
std::vector<std::string> eval_command(const script& s, std::vector<std::string> arguments);
// True for "-NOSCRIPT ...": the server lost its script cache (restart, SCRIPT FLUSH).
bool is_noscript(const redisReply& reply);

// Replies. nullopt: not the expected shape (an error reply or a bug).
std::optional<long long> parse_integer(const redisReply& reply);
// heartbeat: {revived (1: this incarnation was missing, its entries must be written again),
// more (1: a dead instance still has entries), hub, user, hub, user, ...} of users gone offline.
struct heartbeat_result {
    bool revived = false;
    bool more = false;
    std::vector<user_change> offline;
};
std::optional<heartbeat_result> parse_heartbeat(const redisReply& reply);
// users: {next cursor ("0": done), user, user, ...}
std::optional<page<std::string>> parse_users(const redisReply& reply);
// entries: {next cursor, connection, value, connection, value, ...}; values as in the layout.
std::optional<page<connection_entry>> parse_entries(const redisReply& reply, bool group);

}  // namespace switchboard::presence::redis
