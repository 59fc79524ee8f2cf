// Cluster-wide event history beside the bus (Redis Streams when the backplane is Redis): where a
// resume finds the events an instance did not hear itself, and, for Redis, the id authority.
#pragma once

#include "events/event_format.hpp"
#include "events/event_id.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::events {

// One event as the store keeps it: enough to format its SSE bytes again (format_sse_event)
// on any instance. The channel is implied by where it is stored.
struct history_record {
    event_id id;
    std::string type;
    std::string data_json;
};

// What a read after an id found.
struct history_range {
    enum class outcome {
        // `events` are every event after the id that the store holds, oldest first (possibly
        // none): the resume is exact.
        complete,
        // Events after the id were dropped (count, age, or the stream is gone): answer `reset`.
        trimmed,
        // More events after the id than the history bound: answer `reset` (as the local
        // history does when the id is older than its oldest event).
        too_many,
        // The store could not answer (disconnected, queue full, error reply, malformed or
        // oversized reply): fall back to what the local history can vouch for (`reset`).
        unavailable,
    };
    outcome result = outcome::unavailable;
    std::vector<history_record> events;
};

// What append() publishes beside storing, for a store that publishes(): on `channel`, the
// event's data in `frame` with the assigned id (events::encode_bus_event's bytes).
struct bus_copy {
    std::string channel;
    bus_event_frame frame;
};

struct history_store_options {
    // The stream of channel C is "<key_prefix>switchboard:events-history:<C>"; key_prefix is
    // the router's channel prefix (channelPrefix=), so deployments sharing a Redis stay apart.
    std::string key_prefix;
    // --events-history: XADD trims with MAXLEN ~ this (Redis keeps at least this many; the
    // "~" lets it trim whole macro nodes, which is what keeps XADD O(1)).
    std::size_t max_count = 100;
    // --events-history-age: the key expires this long after its last XADD (a quiet channel
    // leaves nothing behind), and reads drop entries older than this (ids are Redis ms).
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};
    // Bounds a read: a reply bigger than this is `unavailable`, never buffered without end.
    std::size_t max_reply_bytes = 8 * 1024 * 1024;
    // The store's server is also the bus's (Redis pub/sub, one server): append() publishes
    // the event there itself (publishes()).
    bool publish = false;
};

// Decision (docs/events.md, "History across instances"): with a store, the store assigns ids.
// append() is XADD `*` and its reply is the event's id; only then is the event delivered here
// and PUBLISHed on the bus with that id. One extra round trip per publication (sub-millisecond
// next to Redis) buys: every instance and the stream agree on every id, ids of a channel are
// totally ordered across racing publishers, and XRANGE `(<id>` is an exact resume. The
// alternative (XADD with the HLC id, `*` on "ID is smaller") makes the stream and the bus
// disagree on the id of exactly the racing events, so a resume duplicates or loses them.
// Publications from one instance stay in order: one connection, replies in order, and the
// home shard delivers them in reply order.
// Where the store's server is also the bus's, append() is one script that stores the event,
// then publishes it: one command instead of XADD, PEXPIRE and a PUBLISH after the reply, and
// the event is on its way to other instances before the publisher has the id. The publisher
// then drops its own copy coming back from the bus by the payload's origin.
//
// Threading: every member may be called from any shard; callbacks run on the executor given
// with the call (the channel's home shard), never inline, never on the caller's stack. Never
// blocks: commands are queued on the store's own Asio client (bounded; a full queue answers
// at once with nullopt / `unavailable`).
// Delivery: at most once, like the bus. An append that fails leaves a hole only the local
// histories of listening instances cover; the caller then assigns the id itself (HLC) and
// publishes as without a store.
class history_store {
public:
    using append_callback = std::function<void(std::optional<event_id> id)>;
    using range_callback = std::function<void(history_range range)>;

    virtual ~history_store() = default;

    // On the control shard, beside the backplane's start and stop.
    virtual void start() {}
    virtual void stop() {}

    // Stores the event on `channel`'s stream and answers the id the store assigned, or nullopt
    // when it could not store it (the caller assigns an id of its own, then observes the
    // store's ids again as they come back from the bus). When publishes(), an id also means
    // `copy` is published; nullopt means it is not (or, with the connection lost between the
    // command and its answer, not known: the caller publishes again, at most a duplicate).
    virtual void append(const std::string& channel, const std::string& type,
                        const std::string& data_json, bus_copy copy,
                        boost::asio::any_io_executor reply_on, append_callback done) = 0;

    // True when append() publishes the event on the bus as it stores it. May turn false for
    // good (the server refused the script); the caller asks again when the answer comes.
    [[nodiscard]] virtual bool publishes() const noexcept { return false; }

    // The events of `channel` after `after`, at most `limit` of them (more is `too_many`).
    // Call it only once the bus subscription to the channel is confirmed: then every event is
    // either in this answer or arrives on the bus afterwards (XADD precedes PUBLISH), and the
    // caller merges the two by id.
    virtual void read_after(const std::string& channel, event_id after, std::size_t limit,
                            boost::asio::any_io_executor reply_on, range_callback done) = 0;

    // False while the store cannot answer (disconnected): a resume then skips the round trip.
    [[nodiscard]] virtual bool available() const noexcept = 0;
};

}  // namespace switchboard::events
