// Durable mode's view of the bus: every publication of the cluster is an entry of one ordered,
// replayable log (a Redis stream first), plus small records with compare-and-set. Cluster-wide
// stateful reconnect (routing/durable/) is built on it.
#pragma once

#include "core/expected.hpp"
#include "core/shared_buffer.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing {

// One publication as the log holds it. `id` orders entries: ids compare as (ms, seq) pairs
// ("<ms>-<seq>", Redis stream ids), never as strings.
struct log_entry {
    std::string id;
    std::string origin;   // the publishing instance's router_options::server_name
    std::string channel;  // the logical channel name, as given to backplane::publish
    shared_buffer payload;
};

// Sees every entry of the log in log order, this instance's own publications included (the
// backplane handler does not see those). Called on the control shard.
class log_observer {
public:
    virtual ~log_observer() = default;
    virtual void on_log_entry(const log_entry& entry) = 0;
    // The reader could not continue where it stopped (the entries after its position were
    // trimmed, or the log vanished with a server restart): what the observer derived from the
    // entries is no longer exact. Reading goes on from the log's current end.
    virtual void on_log_gap() = 0;
};

// The head of read_after's errors that say "not now" rather than "not any more".
inline constexpr std::string_view log_unavailable = "log unavailable";

// Thread safety: every method is called on the control shard; callbacks run there.
class durable_log {
public:
    virtual ~durable_log() = default;

    // Before the bus starts; the observer outlives the bus.
    virtual void set_observer(log_observer* observer) = 0;
    // The id of the last entry given to the observer ("0-0" before the first).
    [[nodiscard]] virtual const std::string& position() const = 0;
    // How long entries are kept (--durable-window): a reader may start this far back.
    [[nodiscard]] virtual std::chrono::milliseconds window() const = 0;

    // Up to `count` entries after `after` (exclusive), oldest first. An error when `after` is
    // no longer in the log (trimmed, or the log was lost): the caller cannot read on exactly;
    // or one starting with log_unavailable when the log cannot be asked now (ask again later).
    using read_handler = std::function<void(expected<std::vector<log_entry>>)>;
    virtual void read_after(const std::string& after, std::size_t count, read_handler done) = 0;

    // Records: small values under a key, each with its own time to live.
    virtual void put_record(const std::string& key, std::string value,
                            std::chrono::milliseconds ttl) = 0;
    // nullopt when there is none (never written, expired or erased).
    using get_handler = std::function<void(expected<std::optional<std::string>>)>;
    virtual void get_record(const std::string& key, get_handler done) = 0;
    // Replaces the value only while it still equals `expected`: true when it did (one claimant
    // wins among racing instances).
    using swap_handler = std::function<void(expected<bool>)>;
    virtual void compare_and_set_record(const std::string& key, std::string expected,
                                        std::string desired, std::chrono::milliseconds ttl,
                                        swap_handler done) = 0;
    virtual void erase_record(const std::string& key) = 0;
};

// Orders two log ids ("<ms>-<seq>"): negative, zero or positive as a is before, equal to or
// after b. Malformed ids order before every well-formed one.
int compare_log_ids(std::string_view a, std::string_view b) noexcept;

}  // namespace switchboard::routing
