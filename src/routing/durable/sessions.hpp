// Durable mode's stateful connections: their trackable messages come from the cluster's log,
// numbered here, so that any instance can take a connection over after its own died and send
// the client exactly what it missed (issue 20, docs/reliability.md).
#pragma once

#include "core/expected.hpp"
#include "core/shard_pool.hpp"
#include "core/shared_buffer.hpp"
#include "routing/backplane.hpp"
#include "routing/durable/session_record.hpp"
#include "routing/durable_log.hpp"
#include "routing/scaleout/channels.hpp"
#include "routing/scaleout/messages.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::routing::durable {

// A connection whose trackable messages durable mode numbers (the hub connection).
class logged_recipient {
public:
    virtual ~logged_recipient() = default;
    // The trackable message numbered `sequence`; numbers arrive consecutively, in log order.
    virtual void deliver_logged(std::int64_t sequence, const shared_buffer& frame) = 0;
    // A takeover's catch-up reached the log's end: the groups the connection is in now.
    virtual void on_caught_up(std::vector<std::string> groups) = 0;
    // Another instance took the connection over: it ends here without ending for the client.
    virtual void on_moved() = 0;
    // Its numbering can no longer be kept exact (the log lost entries it needed): the client
    // must start a new connection, and hears so.
    virtual void on_state_lost() = 0;
    // Paces a takeover's catch-up: runs `then` with the bytes of messages the connection can
    // take next, at once if its send queue has room, else once its writer has drained it (so a
    // catch-up never overflows the send queue). `then` only posts. One waits at a time. The
    // default takes everything at once (a recipient without a send queue).
    virtual void when_ready_for_more(std::function<void(std::size_t budget)> then) {
        then(std::numeric_limits<std::size_t>::max());
    }
};

struct sessions_options {
    std::string server_name;
    std::string channel_prefix;
    // How often each connection's checkpoint may move: a takeover replays from the last one
    // the client acked, so this bounds what it sends again (a second of traffic stays well
    // inside the client's 100 kB replay buffer) at the cost of a Redis write per connection.
    std::chrono::milliseconds checkpoint_interval{1000};
    // A connection with nothing new still rewrites its checkpoint this often, so that the
    // checkpoint's log position never falls out of the window (a quarter of it).
    std::chrono::milliseconds refresh_interval{7500};
};

// Why a takeover did not happen.
enum class claim_failure : unsigned char { unknown, forbidden, taken, lost, unavailable };

// The state a takeover starts from, given to the instance's new hub connection.
struct claimed_session {
    session_record record;
    std::string token;
};
struct claim_outcome {
    std::optional<claimed_session> claimed;
    claim_failure failure = claim_failure::unknown;  // when not claimed
};

// Determinism is the whole design: every trackable message to a durable connection (hub
// sends, its own completions and stream items, group changes as markers) is an entry of the
// one log, and whether an entry reaches the connection depends only on the entry and on the
// connection's state as the entries before it left it. So an instance that starts from a
// checkpoint (log position, count, groups) and reads the log on numbers every later message as
// the old owner did, and the client drops exactly the ones it already had.
//
// Thread safety: all state lives on the control shard; the public methods may be called from
// any shard and post there. Recipients are called on their own shards.
class sessions final : public log_observer {
public:
    sessions(shard_pool& shards, backplane& bus, durable_log& log,
             std::vector<scaleout::channels> hubs, sessions_options options);
    ~sessions() override;
    sessions(const sessions&) = delete;
    sessions& operator=(const sessions&) = delete;

    // On the control shard, before the bus starts / after it stopped.
    void start();
    void stop();

    // A stateful connection completed its handshake on `shard`: it is numbered from the log
    // position this call reaches the control shard at.
    void add(std::size_t hub, std::string connection_id, std::string token, std::string user,
             protocol::wire_protocol protocol, std::weak_ptr<logged_recipient> target,
             std::size_t shard);
    // The connection ended here. `ended`: for the client too, so its record goes.
    void remove(std::string connection_id, bool ended);
    // The client has every message up to `sequence`.
    void on_ack(std::string connection_id, std::int64_t sequence);
    // The connection can no longer resume (its client stopped acking): its record goes, its
    // messages still come from the log.
    void stop_resuming(std::string connection_id);
    // A trackable message made for this connection alone (a completion, a stream item):
    // published to the log, and sent when it comes back in log order.
    void publish_frame(std::size_t hub, const std::string& connection_id,
                       protocol::wire_protocol protocol, const shared_buffer& frame);
    // Called by the router on the connection's shard right after it changed a durable
    // connection's groups.
    void group_changed(std::size_t hub, const std::string& connection_id, const std::string& group,
                       bool join);

    // A client presents `token` of a connection this instance does not hold: takes it over
    // when the log still covers its checkpoint and `user` owned it. `done` runs on the control
    // shard.
    using claim_handler = std::function<void(claim_outcome)>;
    void claim(std::size_t hub, std::string token, std::string user, claim_handler done);
    // A client presents the token of a paused connection held here: `done(true)` (on the
    // control shard) unless its record names another owner now (the connection ends here as
    // moved) or is gone (it ends as lost), or it ended here already. Asked before every
    // resume, because the paused copy learns of a takeover only when it reads its marker.
    void confirm(std::string connection_id, std::function<void(bool resumable)> done);
    // The new hub connection for a claimed session exists on `shard`: it receives the log from
    // the checkpoint on (a catch-up), then live.
    void attach(std::size_t hub, claimed_session claimed, std::weak_ptr<logged_recipient> target,
                std::size_t shard);

    void on_log_entry(const log_entry& entry) override;
    void on_log_gap() override;

    // Control shard: durable connections held here (for tests and metrics).
    [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }

private:
    struct checkpoint {
        std::string position;
        std::int64_t sequence = 0;
        std::vector<std::string> groups;
    };
    struct session {
        std::size_t hub = 0;
        session_record record;  // connection id, user, protocol, groups, epoch: the live state
        std::string key;
        std::weak_ptr<logged_recipient> target;
        std::size_t shard = 0;
        std::int64_t acked = 0;
        std::deque<checkpoint> pending;  // taken, waiting for the client's ack; oldest first
        std::string written;             // the record's value as last written by us
        std::chrono::steady_clock::time_point written_at;
        bool writing = false;                // a write is in flight: the next waits for it
        bool resumable = true;               // checkpoints are kept
        std::int64_t snapshot_sequence = 0;  // of the newest checkpoint taken
        // A takeover's catch-up: entries up to `caught_up_through` were read already.
        bool catching_up = false;
        std::string caught_up_through;
        std::size_t catch_up_read = 0;  // entries the next catch-up read asks for
    };
    struct marker {
        char kind = 0;  // 'j'oin, 'l'eave, 'm'oved
        std::string hub;
        std::string connection_id;
        std::string value;  // the group, or the new owner's epoch
    };

    void on_control(std::function<void()> work);
    // The entry's messages for one session (catch-up and live go through the same function).
    // The entry's payload decoded at most once, however many sessions it addresses.
    using decoded_cache = std::optional<expected<scaleout::invocation>>;
    void apply(session& s, const log_entry& entry, decoded_cache& decoded);
    // As apply(), for an entry of the session's hub whose channel is parsed already.
    void apply_addressed(session& s, const log_entry& entry, const scaleout::parsed_channel& to,
                         decoded_cache& decoded);
    // Applies a marker to `s`; false when `s` ended here (moved).
    bool apply_marker(session& s, const marker& m);
    // Numbers `frame` for `s` and queues it for s's shard; flush() posts each shard's queue
    // once (one post per shard per log entry, not per recipient).
    void deliver(session& s, const shared_buffer& frame);
    void flush();
    void index(session& s, bool add);
    // A catch-up's next batch: entries until their messages for the connection pass `budget`
    // bytes (the rest is read again next time).
    void read_on(const std::string& connection_id, std::size_t budget);
    // Continues s's catch-up once its connection is ready for more (logged_recipient).
    void read_when_ready(const session& s);
    void do_checkpoints();
    void commit(session& s);
    // The claim's compare-and-set of the record (`current` as read) to this instance.
    void take_over(std::size_t hub, const std::string& key, std::string current,
                   session_record record, std::string token, claim_handler done);
    void lost_record(const std::string& connection_id);
    // Ends s here: another instance owns its record (`moved`), or nobody does.
    void end_here(session& s, bool moved);
    void forget(const std::string& connection_id);
    [[nodiscard]] std::string marker_channel() const;
    [[nodiscard]] static std::optional<marker> parse_marker(std::string_view payload);

    shard_pool& shards_;
    backplane& bus_;
    durable_log& log_;
    std::vector<scaleout::channels> hubs_;
    sessions_options options_;
    boost::asio::steady_timer timer_;
    std::unordered_map<std::string, session> sessions_;  // by connection id
    struct delivery {
        std::weak_ptr<logged_recipient> target;
        std::int64_t sequence = 0;
        shared_buffer frame;
    };
    std::vector<std::vector<delivery>> outgoing_;  // per shard, until flush()
    // Per hub: user -> connection ids, group -> connection ids (live sessions only).
    std::vector<std::unordered_map<std::string, std::unordered_set<std::string>>> users_;
    std::vector<std::unordered_map<std::string, std::unordered_set<std::string>>> groups_;
};

}  // namespace switchboard::routing::durable
