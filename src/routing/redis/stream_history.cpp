#include "routing/redis/stream_history.hpp"

#include "events/event_format.hpp"
#include "routing/redis/lua_script.hpp"

#include <hiredis/hiredis.h>

#include <utility>

namespace switchboard::routing::redis::stream_history {

namespace {

std::string_view text_of(const redisReply& reply) {
    return {reply.str, reply.len};
}

bool is_text(const redisReply& reply) {
    return reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS;
}

std::optional<events::event_id> id_of(const redisReply& reply) {
    if (!is_text(reply)) {
        return std::nullopt;
    }
    return events::parse_event_id(text_of(reply));
}

// XINFO's first-entry: [id, [field, value, ...]] or nil for an empty stream.
std::optional<events::event_id> entry_id_of(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2) {
        return std::nullopt;
    }
    return id_of(*reply.element[0]);
}

}  // namespace

std::string stream_key(std::string_view prefix, std::string_view channel) {
    constexpr std::string_view middle = "switchboard:events-history:";
    std::string key;
    key.reserve(prefix.size() + middle.size() + channel.size());
    key.append(prefix).append(middle).append(channel);
    return key;
}

std::vector<std::string> xadd_command(const std::string& key, std::size_t max_count,
                                      const std::string& type, const std::string& data_json) {
    return {"XADD", key, "MAXLEN", "~", std::to_string(max_count), "*", "t", type, "d", data_json};
}

std::vector<std::string> pexpire_command(const std::string& key, std::chrono::milliseconds age) {
    return {"PEXPIRE", key, std::to_string(age.count())};
}

namespace {

// KEYS: stream. ARGV: max count, age (ms), type, data, bus channel, the bus payload's bytes
// before and after the data (events::bus_event_frame); the tail after the id is
// events::bus_event_tail.
constexpr std::string_view append_script = R"lua(
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 't', ARGV[3], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ARGV[4] .. ARGV[7] .. id .. '"}')
return id
)lua";

}  // namespace

std::vector<std::string> append_and_publish_command(const std::string& key, std::size_t max_count,
                                                    std::chrono::milliseconds age,
                                                    const std::string& type,
                                                    const std::string& data_json,
                                                    events::bus_copy copy) {
    static_assert(events::bus_event_tail == "\"}", "append_script writes the tail itself");
    static const std::string sha1 = script_sha1(append_script);
    return script_command("EVALSHA", sha1, {key},
                          {std::to_string(max_count), std::to_string(age.count()), type, data_json,
                           std::move(copy.channel), std::move(copy.frame.before_data),
                           std::move(copy.frame.after_data)});
}

std::vector<std::string> load_append_script_command() {
    return {"SCRIPT", "LOAD", std::string(append_script)};
}

std::vector<std::string> xrange_command(const std::string& key, events::event_id after,
                                        std::size_t limit) {
    // Appended in place: "(" + string trips GCC 12's -Wrestrict false positive.
    std::string start = "(";
    events::append_event_id(after, start);
    return {"XRANGE", key, std::move(start), "+", "COUNT", std::to_string(limit + 1)};
}

std::vector<std::string> xinfo_command(const std::string& key) {
    return {"XINFO", "STREAM", key};
}

std::optional<events::event_id> parse_id_reply(const redisReply& reply) {
    return id_of(reply);
}

std::optional<std::vector<events::history_record>> parse_range_reply(const redisReply& reply,
                                                                     std::size_t max_bytes) {
    if (reply.type != REDIS_REPLY_ARRAY) {
        return std::nullopt;
    }
    std::vector<events::history_record> records;
    records.reserve(reply.elements);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const auto& entry = *reply.element[i];
        if (entry.type != REDIS_REPLY_ARRAY || entry.elements != 2) {
            return std::nullopt;
        }
        const auto id = id_of(*entry.element[0]);
        const auto& fields = *entry.element[1];
        if (!id || fields.type != REDIS_REPLY_ARRAY || fields.elements % 2 != 0) {
            return std::nullopt;
        }
        events::history_record record{*id, {}, {}};
        bool has_type = false;
        bool has_data = false;
        for (std::size_t f = 0; f + 1 < fields.elements; f += 2) {
            const auto& name = *fields.element[f];
            const auto& value = *fields.element[f + 1];
            if (!is_text(name) || !is_text(value)) {
                return std::nullopt;
            }
            // Unknown fields are skipped: a later version may add some.
            if (text_of(name) == "t") {
                record.type = text_of(value);
                has_type = true;
            } else if (text_of(name) == "d") {
                record.data_json = text_of(value);
                has_data = true;
            }
        }
        if (!has_type || !has_data) {
            return std::nullopt;
        }
        bytes += record.type.size() + record.data_json.size();
        if (bytes > max_bytes) {
            return std::nullopt;
        }
        records.push_back(std::move(record));
    }
    return records;
}

std::optional<stream_info> parse_info_reply(const redisReply& reply) {
    stream_info info;
    if (reply.type == REDIS_REPLY_ERROR) {
        // "ERR no such key"; any other error is not an answer.
        if (text_of(reply).find("no such key") != std::string_view::npos) {
            return info;
        }
        return std::nullopt;
    }
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements % 2 != 0) {
        return std::nullopt;
    }
    info.exists = true;
    std::optional<long long> length;
    std::optional<long long> added;
    for (std::size_t i = 0; i + 1 < reply.elements; i += 2) {
        const auto& name = *reply.element[i];
        const auto& value = *reply.element[i + 1];
        if (!is_text(name)) {
            return std::nullopt;
        }
        const auto field = text_of(name);
        if (field == "length" && value.type == REDIS_REPLY_INTEGER) {
            length = value.integer;
        } else if (field == "entries-added" && value.type == REDIS_REPLY_INTEGER) {
            added = value.integer;
        } else if (field == "first-entry") {
            info.first_entry = entry_id_of(value);
        } else if (field == "last-generated-id") {
            info.last_generated = id_of(value);
        } else if (field == "max-deleted-entry-id") {
            info.max_deleted = id_of(value);
            if (!info.max_deleted) {
                return std::nullopt;
            }
        }
    }
    if (length && added && *added >= *length && *length >= 0) {
        info.removed = static_cast<std::uint64_t>(*added - *length);
    }
    return info;
}

events::history_range judge_range(events::event_id after, std::size_t limit,
                                  std::vector<events::history_record> entries,
                                  const stream_info& info, std::uint64_t now_ms,
                                  std::chrono::milliseconds max_age) {
    using outcome = events::history_range::outcome;
    const auto age_ms = static_cast<std::uint64_t>(max_age.count());
    const std::uint64_t oldest_ms = now_ms > age_ms ? now_ms - age_ms : 0;
    const bool after_within_age = after.ms >= oldest_ms;
    events::history_range range;
    range.result = outcome::trimmed;
    if (!info.exists) {
        if (after_within_age) {
            range.result = outcome::complete;
        }
        return range;
    }
    if (entries.size() > limit) {
        range.result = outcome::too_many;
        return range;
    }
    const bool first_is_newer = !info.first_entry || *info.first_entry > after;
    const bool deleted_after = info.max_deleted && *info.max_deleted > after;
    // Before 7.0 (no count of removals) a newer first entry cannot be told from a trim.
    const bool trimmed_after = first_is_newer && (!info.removed || *info.removed > 0);
    if (deleted_after || trimmed_after || (first_is_newer && !after_within_age)) {
        return range;
    }
    for (const auto& entry : entries) {
        if (entry.id.ms < oldest_ms) {
            return range;
        }
    }
    range.result = outcome::complete;
    range.events = std::move(entries);
    return range;
}

}  // namespace switchboard::routing::redis::stream_history
