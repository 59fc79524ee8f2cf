// Redis Streams as event history, the pure part: stream keys, the XADD / XRANGE / XINFO
// commands, reading their replies, and judging whether a range is an exact resume.
#pragma once

#include "events/event_id.hpp"
#include "events/history_store.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis

namespace switchboard::routing::redis::stream_history {

// "<prefix>switchboard:events-history:<channel>". No hash tag: each channel's stream lands on
// its own slot in a cluster (commands for it must go to that slot's node).
[[nodiscard]] std::string stream_key(std::string_view prefix, std::string_view channel);

// XADD <key> MAXLEN ~ <max_count> * t <type> d <data>: Redis assigns the id (the store is the
// id authority, history_store.hpp). Field names are one letter: they are stored per entry
// unless every entry of a macro node has the same fields, which ours do.
[[nodiscard]] std::vector<std::string> xadd_command(const std::string& key, std::size_t max_count,
                                                    const std::string& type,
                                                    const std::string& data_json);
// PEXPIRE <key> <age ms>: pipelined after every XADD, so a quiet channel's stream goes away
// `age` after its last event (and a missing key then means "nothing within the age bound").
[[nodiscard]] std::vector<std::string> pexpire_command(const std::string& key,
                                                       std::chrono::milliseconds age);
// EVALSHA <script> 1 <key> ...: the XADD and PEXPIRE above, then PUBLISH <copy.channel>
// (the data framed by copy.frame, then the id) in one step (append_script). The store must be the
// bus's only server.
[[nodiscard]] std::vector<std::string> append_and_publish_command(
    const std::string& key, std::size_t max_count, std::chrono::milliseconds age,
    const std::string& type, const std::string& data_json, events::bus_copy copy);
// SCRIPT LOAD <append_script>: sent on every connect, ahead of any EVALSHA, so the script
// is known wherever the command runs (a restarted Redis has forgotten it).
[[nodiscard]] std::vector<std::string> load_append_script_command();
// XRANGE <key> (<after> + COUNT <limit + 1>: one more than the bound tells "too many".
[[nodiscard]] std::vector<std::string> xrange_command(const std::string& key,
                                                      events::event_id after, std::size_t limit);
// XINFO STREAM <key>: sent after the XRANGE on the same connection, so that a trim it does
// not report cannot have removed an entry the XRANGE should have returned.
[[nodiscard]] std::vector<std::string> xinfo_command(const std::string& key);

// A stream id reply (XADD): "<ms>-<seq>" as a bulk string.
[[nodiscard]] std::optional<events::event_id> parse_id_reply(const redisReply& reply);

// An XRANGE reply: [[id, [field, value, ...]], ...]. Nothing when malformed (unknown shape, an
// id that is not "<ms>-<seq>", an entry without `t` or `d`) or when the type and data of all
// entries together exceed `max_bytes`.
[[nodiscard]] std::optional<std::vector<events::history_record>> parse_range_reply(
    const redisReply& reply, std::size_t max_bytes);

// What XINFO STREAM tells about trimming.
struct stream_info {
    bool exists = false;  // false: "ERR no such key" (never written, or expired)
    std::optional<events::event_id> first_entry;
    std::optional<events::event_id> last_generated;
    // Redis 7.0+: the largest id removed by XDEL; {0,0} when none. Trimming does NOT move it
    // (checked on 7.0.15: 0-0 after XTRIM), so it only guards against an operator's XDEL.
    std::optional<events::event_id> max_deleted;
    // Redis 7.0+: entries-added - length, the entries trimmed (or deleted) so far; absent
    // before 7.0. Trimming removes from the head, so every trimmed id is below first_entry.
    std::optional<std::uint64_t> removed;
};
// XINFO STREAM's flat [name, value, ...] reply, or an error reply (no such key). Nothing when
// malformed.
[[nodiscard]] std::optional<stream_info> parse_info_reply(const redisReply& reply);

// The verdict on a resume from `after`, given what XRANGE returned (`entries`, at most
// limit + 1) and what XINFO said after it. Pure: the policy of docs/events.md in one place.
// In order:
// 1. no stream: complete and empty if `after` is within the age bound (the key outlives its
//    last event by the age bound, so nothing was published after `after`), else trimmed;
// 2. more than `limit` entries: too_many;
// 3. an entry after `after` may have been removed: XDEL'd beyond it (max_deleted > after), or
//    trimmed (first entry newer than `after` while entries were removed, since the removed
//    ones, all below the first entry, may lie after `after`; before Redis 7.0, which does not
//    count removals, a first entry newer than `after` is enough): trimmed;
// 4. the first entry is newer than `after` and `after` is older than the age bound: the key
//    may have expired and been created again in between, losing events: trimmed;
// 5. an entry older than the age bound: trimmed (the local history would have dropped it);
// 6. otherwise complete, with the entries.
[[nodiscard]] events::history_range judge_range(events::event_id after, std::size_t limit,
                                                std::vector<events::history_record> entries,
                                                const stream_info& info, std::uint64_t now_ms,
                                                std::chrono::milliseconds max_age);

}  // namespace switchboard::routing::redis::stream_history
