#include "presence/redis/presence_scripts.hpp"

#include "routing/redis/lua_script.hpp"

#include <hiredis/hiredis.h>

namespace switchboard::presence::redis {

namespace {

// Shared by every script: Redis's clock, liveness with a per-call cache (one ZSCORE per
// instance, however many entries it holds), and the removal of one connection's entries.
constexpr std::string_view prelude = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local alive_cache = {}
local function alive(base, instance, horizon)
  local known = alive_cache[instance]
  if known == nil then
    local score = redis.call('ZSCORE', base .. 'instances', instance)
    known = score ~= false and score ~= nil and tonumber(score) >= horizon
    alive_cache[instance] = known
  end
  return known
end
local function owner(value)
  local cut = string.find(value, '\31', 1, true)
  if cut == nil then return value end
  return string.sub(value, 1, cut - 1)
end
local function hub_base(base, hub)
  return base .. #hub .. ':' .. hub .. ':'
end
local function live_count(base, key, horizon)
  local all = redis.call('HGETALL', key)
  local count = 0
  for i = 2, #all, 2 do
    if alive(base, owner(all[i]), horizon) then count = count + 1 end
  end
  return count
end
-- Removes a connection's entries; 1 when its user has no live connection left and had been
-- reported online (the SREM makes that report happen once).
local function drop(base, hub, connection, user, horizon)
  local h = hub_base(base, hub)
  local groups_key = h .. 'c:' .. connection
  for _, group in ipairs(redis.call('SMEMBERS', groups_key)) do
    redis.call('HDEL', h .. 'g:' .. group, connection)
  end
  redis.call('DEL', groups_key)
  if user == '' then return 0 end
  local user_key = h .. 'u:' .. user
  redis.call('HDEL', user_key, connection)
  if live_count(base, user_key, horizon) == 0 then
    return redis.call('SREM', h .. 'users', user)
  end
  return 0
end
)lua";

// ARGV: base, instance, expiry ms, hub, connection, user, connected ms. 1: the user came
// online.
constexpr std::string_view add_body = R"lua(
local base, instance, hub, connection, user = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6]
redis.call('SADD', base .. 'i:' .. instance, hub .. '\31' .. connection .. '\31' .. user)
if user == '' then return 0 end
local h = hub_base(base, hub)
redis.call('HSET', h .. 'u:' .. user, connection, instance .. '\31' .. ARGV[7])
return redis.call('SADD', h .. 'users', user)
)lua";

// ARGV: base, instance, expiry ms, hub, connection, user. 1: the user went offline.
constexpr std::string_view remove_body = R"lua(
local base, instance, hub, connection, user = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6]
redis.call('SREM', base .. 'i:' .. instance, hub .. '\31' .. connection .. '\31' .. user)
return drop(base, hub, connection, user, now_ms() - tonumber(ARGV[3]))
)lua";

// ARGV: base, instance, expiry ms, hub, connection, user, group, connected ms.
constexpr std::string_view join_body = R"lua(
local base, instance, hub, connection, user, group = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local h = hub_base(base, hub)
redis.call('HSET', h .. 'g:' .. group, connection, instance .. '\31' .. ARGV[8] .. '\31' .. user)
redis.call('SADD', h .. 'c:' .. connection, group)
return 0
)lua";

// ARGV: base, instance, expiry ms, hub, connection, group.
constexpr std::string_view leave_body = R"lua(
local h = hub_base(ARGV[1], ARGV[4])
redis.call('HDEL', h .. 'g:' .. ARGV[6], ARGV[5])
redis.call('SREM', h .. 'c:' .. ARGV[5], ARGV[6])
return 0
)lua";

// ARGV: base, instance, expiry ms, batch. Refreshes this instance, then deletes up to `batch`
// entries of one dead instance. Writes never refresh the heartbeat: only this script decides
// whether the instance was gone (missing, or older than the expiry: a reaper may have deleted
// part of its entries), so that it writes them all again.
constexpr std::string_view heartbeat_body = R"lua(
local base, instance = ARGV[1], ARGV[2]
local now = now_ms()
local horizon = now - tonumber(ARGV[3])
local previous = redis.call('ZSCORE', base .. 'instances', instance)
local revived = 0
if previous == false or previous == nil or tonumber(previous) < horizon then revived = 1 end
redis.call('ZADD', base .. 'instances', now, instance)
local result = {revived, 0}
local dead = redis.call('ZRANGEBYSCORE', base .. 'instances', '-inf', '(' .. horizon, 'LIMIT', 0, 1)
if #dead == 1 then
  local index = base .. 'i:' .. dead[1]
  for _, member in ipairs(redis.call('SPOP', index, tonumber(ARGV[4]))) do
    local a = string.find(member, '\31', 1, true)
    local b = a and string.find(member, '\31', a + 1, true)
    if b then
      local hub = string.sub(member, 1, a - 1)
      local user = string.sub(member, b + 1)
      if drop(base, hub, string.sub(member, a + 1, b - 1), user, horizon) == 1 then
        table.insert(result, hub)
        table.insert(result, user)
      end
    end
  end
  if redis.call('SCARD', index) == 0 then
    redis.call('ZREM', base .. 'instances', dead[1])
  else
    result[2] = 1
  end
end
return result
)lua";

// ARGV: base, expiry ms, hub, cursor, count. {next cursor, live users...}
constexpr std::string_view users_body = R"lua(
local base = ARGV[1]
local horizon = now_ms() - tonumber(ARGV[2])
local h = hub_base(base, ARGV[3])
local scan = redis.call('SSCAN', h .. 'users', ARGV[4], 'COUNT', tonumber(ARGV[5]))
local out = {scan[1]}
for _, user in ipairs(scan[2]) do
  if live_count(base, h .. 'u:' .. user, horizon) > 0 then table.insert(out, user) end
end
return out
)lua";

// ARGV: base, expiry ms, key, cursor, count. {next cursor, connection, value, ...} live only.
constexpr std::string_view entries_body = R"lua(
local base = ARGV[1]
local horizon = now_ms() - tonumber(ARGV[2])
local scan = redis.call('HSCAN', ARGV[3], ARGV[4], 'COUNT', tonumber(ARGV[5]))
local out = {scan[1]}
local found = scan[2]
for i = 1, #found, 2 do
  if alive(base, owner(found[i + 1]), horizon) then
    table.insert(out, found[i])
    table.insert(out, found[i + 1])
  end
end
return out
)lua";

// ARGV: base, expiry ms, hub, user. 1: online.
constexpr std::string_view online_body = R"lua(
local base = ARGV[1]
local horizon = now_ms() - tonumber(ARGV[2])
if live_count(base, hub_base(base, ARGV[3]) .. 'u:' .. ARGV[4], horizon) > 0 then return 1 end
return 0
)lua";

// ARGV: key, "1" if an expected value is given else "0", expected, value, ttl ms (0: none).
constexpr std::string_view compare_and_set_body = R"lua(
local current = redis.call('GET', ARGV[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then return 0 end
elseif current then
  return 0
end
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', ARGV[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('SET', ARGV[1], ARGV[4])
end
return 1
)lua";

struct script_text {
    explicit script_text(std::string_view name_, std::string_view body)
        : text(std::string(prelude) + std::string(body)) {
        value.name = name_;
        value.text = text;
        value.sha1 = routing::redis::script_sha1(text);
    }
    std::string text;
    script value;
};

}  // namespace

const script& add_script() {
    static const script_text s("add", add_body);
    return s.value;
}
const script& remove_script() {
    static const script_text s("remove", remove_body);
    return s.value;
}
const script& join_script() {
    static const script_text s("join", join_body);
    return s.value;
}
const script& leave_script() {
    static const script_text s("leave", leave_body);
    return s.value;
}
const script& heartbeat_script() {
    static const script_text s("heartbeat", heartbeat_body);
    return s.value;
}
const script& users_script() {
    static const script_text s("users", users_body);
    return s.value;
}
const script& entries_script() {
    static const script_text s("entries", entries_body);
    return s.value;
}
const script& online_script() {
    static const script_text s("online", online_body);
    return s.value;
}

const script& compare_and_set_script() {
    static const script_text s("compare_and_set", compare_and_set_body);
    return s.value;
}

std::vector<const script*> all_scripts() {
    return {&add_script(),     &remove_script(),    &join_script(),
            &leave_script(),   &heartbeat_script(), &users_script(),
            &entries_script(), &online_script(),    &compare_and_set_script()};
}

std::vector<std::string> load_command(const script& s) {
    return {"SCRIPT", "LOAD", std::string(s.text)};
}

std::string key_base(std::string_view key_prefix) {
    std::string base(key_prefix);
    // A hash tag: on Redis Cluster every presence key hashes to one slot, so one script can
    // touch them all (on that slot's master).
    base += "{switchboard:presence}:";
    return base;
}

std::string hub_base(std::string_view base, std::string_view hub) {
    std::string h(base);
    h += std::to_string(hub.size());
    h += ':';
    h += hub;
    h += ':';
    return h;
}

std::vector<std::string> evalsha_command(const script& s, std::vector<std::string> arguments) {
    return routing::redis::script_command("EVALSHA", s.sha1, {}, std::move(arguments));
}

std::vector<std::string> eval_command(const script& s, std::vector<std::string> arguments) {
    return routing::redis::script_command("EVAL", s.text, {}, std::move(arguments));
}

bool is_noscript(const redisReply& reply) {
    return routing::redis::is_noscript(reply);
}

std::optional<long long> parse_integer(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_INTEGER) {
        return std::nullopt;
    }
    return reply.integer;
}

namespace {
std::optional<std::string> string_of(const redisReply* reply) {
    if (reply == nullptr ||
        (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS)) {
        return std::nullopt;
    }
    return std::string(reply->str, reply->len);
}
std::string next_cursor(const std::string& cursor) {
    return cursor == "0" ? std::string() : cursor;
}
}  // namespace

std::optional<heartbeat_result> parse_heartbeat(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 2 || reply.elements % 2 != 0 ||
        reply.element[0]->type != REDIS_REPLY_INTEGER ||
        reply.element[1]->type != REDIS_REPLY_INTEGER) {
        return std::nullopt;
    }
    heartbeat_result result;
    result.revived = reply.element[0]->integer == 1;
    result.more = reply.element[1]->integer == 1;
    for (std::size_t i = 2; i < reply.elements; i += 2) {
        auto hub = string_of(reply.element[i]);
        auto user = string_of(reply.element[i + 1]);
        if (!hub || !user) {
            return std::nullopt;
        }
        result.offline.push_back(user_change{std::move(*hub), std::move(*user), false, {}});
    }
    return result;
}

std::optional<page<std::string>> parse_users(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 1) {
        return std::nullopt;
    }
    auto cursor = string_of(reply.element[0]);
    if (!cursor) {
        return std::nullopt;
    }
    page<std::string> result;
    result.next = next_cursor(*cursor);
    for (std::size_t i = 1; i < reply.elements; ++i) {
        auto user = string_of(reply.element[i]);
        if (!user) {
            return std::nullopt;
        }
        result.entries.push_back(std::move(*user));
    }
    return result;
}

std::optional<page<connection_entry>> parse_entries(const redisReply& reply, bool group) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 1 || reply.elements % 2 != 1) {
        return std::nullopt;
    }
    auto cursor = string_of(reply.element[0]);
    if (!cursor) {
        return std::nullopt;
    }
    page<connection_entry> result;
    result.next = next_cursor(*cursor);
    for (std::size_t i = 1; i < reply.elements; i += 2) {
        auto connection = string_of(reply.element[i]);
        auto value = string_of(reply.element[i + 1]);
        if (!connection || !value) {
            return std::nullopt;
        }
        // "<instance>\x1f<ms>" or, for groups, "<instance>\x1f<ms>\x1f<user>" (the user may
        // hold the separator itself: it is the rest).
        const auto first = value->find('\x1f');
        if (first == std::string::npos) {
            return std::nullopt;
        }
        const auto second = group ? value->find('\x1f', first + 1) : std::string::npos;
        if (group && second == std::string::npos) {
            return std::nullopt;
        }
        connection_entry entry;
        entry.connection_id = std::move(*connection);
        entry.instance = value->substr(0, first);
        const auto ms = value->substr(first + 1, group ? second - first - 1 : std::string::npos);
        char* end = nullptr;
        entry.connected_at_ms = std::strtoull(ms.c_str(), &end, 10);
        if (group) {
            entry.user_id = value->substr(second + 1);
        }
        result.entries.push_back(std::move(entry));
    }
    return result;
}

}  // namespace switchboard::presence::redis
