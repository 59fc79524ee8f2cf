// The event registry: per-shard subscriber lists, per-channel state (ids, history, retained
// event) on the channel's home shard, and the bus channels that carry events between instances.
#pragma once

#include "core/expected.hpp"
#include "core/metrics.hpp"
#include "core/shard_pool.hpp"
#include "core/shared_buffer.hpp"
#include "events/event_id.hpp"
#include "events/events_options.hpp"
#include "events/history.hpp"
#include "events/history_store.hpp"
#include "events/names.hpp"
#include "routing/backplane.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchboard::events {

// What the registry needs of a subscriber stream; called on the subscriber's shard only.
class subscriber {
public:
    virtual ~subscriber() = default;
    // Queues the bytes of one SSE event (or reset); the subscriber bounds its own queue.
    virtual void deliver(const shared_buffer& sse) = 0;
    // The instance is shutting down: end the stream (its EventSource reconnects elsewhere and
    // resumes). On the subscriber's shard; it unsubscribes itself.
    virtual void close() {}
};

// Called with the id an event got, on the channel's home shard.
using published_callback = std::function<void(event_id)>;

struct channel_count {
    std::string channel;
    std::size_t subscribers = 0;
};

// Thread safety: subscriber lists are per shard and touched on their shard only; a channel's
// state lives on its home shard (a hash of the name), where every id of that channel is
// assigned and its history kept; work crosses shards by post, never under a lock. The bus
// delivers on routing::router::control_shard (the router hands event channels over).
// Invariant: a subscriber stays alive until unsubscribe() on its shard.
class registry final : public routing::backplane_handler {
public:
    // `channel_prefix` is the router's (raw bytes before every bus channel name). With
    // `shared_history` (it outlives the registry), ids come from it and a resume this
    // instance's history cannot vouch for is answered from it (history_store.hpp).
    registry(shard_pool& shards, routing::backplane& bus, std::string channel_prefix,
             events_options options, switchboard::metrics* counters = nullptr,
             history_store* shared_history = nullptr);

    [[nodiscard]] const events_options& options() const noexcept { return options_; }
    // "<channel_prefix>switchboard:events:": the router hands these channels to this registry.
    [[nodiscard]] const std::string& bus_prefix() const noexcept { return bus_prefix_; }
    // "<channel_prefix>switchboard:events-all": `all` publications; not a bus_prefix() name, so
    // no event channel (not even one named "*all*") can collide with it.
    [[nodiscard]] const std::string& all_channel() const noexcept { return all_channel_; }
    // "<--events-statelesse-prefix>:events" exactly (StateleSSE's name, no channel prefix), or
    // empty when the compatibility mode is off.
    [[nodiscard]] const std::string& statelesse_channel() const noexcept {
        return statelesse_channel_;
    }
    // Before the bus starts (on the control shard, beside router::start): subscribes the
    // StateleSSE channel when that mode is on (every instance hears every envelope, as
    // StateleSSE servers do).
    void start();

    // On the subscriber's shard: starts delivering `channels` to `target`. With `resume_from`,
    // each channel first gets its history after that id (or a reset when history does not
    // reach back); without, a retained channel starts with its last event. Live events
    // follow with no gap and no duplicate.
    void subscribe(subscriber& target, const std::vector<std::string>& channels,
                   std::optional<event_id> resume_from);
    // On the subscriber's shard; the subscriber may be destroyed once this returns.
    void unsubscribe(subscriber& target, const std::vector<std::string>& channels);

    // Any thread: assigns the next id on the channel's home shard, stores and delivers the
    // event, publishes it on the bus; `done` (optional) runs on the home shard with the id.
    // The channel and type must be valid (valid_channel, valid_type), `data_json` serialized.
    void publish(std::string channel, std::string type, std::string data_json,
                 published_callback done = {});
    // From a shard: publishes to every channel with subscribers here (ids in `done`, on the
    // calling shard) and asks every other instance, over the all-channel, to publish it to
    // its own channels not among these (they assign their own ids; docs/events.md).
    void publish_all(std::string type, std::string data_json,
                     std::function<void(std::vector<std::pair<std::string, event_id>>)> done);
    // The embedded API: validates, serializes `data` and publishes.
    expected<void> publish(std::string_view channel, std::string_view type,
                           const boost::json::value& data, published_callback done = {});

    // Events from other instances, on the control shard. Malformed payloads are counted and
    // dropped.
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;
    [[nodiscard]] std::uint64_t malformed_messages() const noexcept {
        return malformed_.load(std::memory_order_relaxed);
    }

    // From a shard: `done` runs on the calling shard with every channel that has subscribers
    // on this instance, and their counts, sorted by name.
    void local_channels(std::function<void(std::vector<channel_count>)> done);
    // Any thread: closes every subscriber on every shard; `done` runs once all shards did it,
    // on the last of them.
    void close_all(std::function<void()> done);
    // Any thread: trims histories by age and forgets idle channels.
    void sweep();
    // Subscriptions (stream x channel) on `shard`, for tests. On that shard.
    [[nodiscard]] std::size_t local_subscriptions(std::size_t shard) const;

    [[nodiscard]] std::size_t home_shard(std::string_view channel) const noexcept;
    [[nodiscard]] boost::asio::any_io_executor executor(std::size_t shard) {
        return pool_.context(shard).get_executor();
    }

private:
    struct subscription {
        subscriber* target = nullptr;
        // Unique on its shard: an answer finds its subscription even if the subscriber went
        // away and another took its address.
        std::uint64_t serial = 0;
        // Until the home shard answered: live events are skipped (the answer covers them).
        bool pending = true;
        // Live events with ids up to here were covered by the answer (history, retained).
        event_id watermark{};
    };
    struct shard_state {
        std::unordered_map<std::string, std::vector<subscription>> subscriptions;
        std::uint64_t next_serial = 0;
    };
    // Events a channel distributed while reads of the shared history were in flight: the
    // reads' answers include them, since their subscribers skipped them while pending.
    struct read_recorder {
        std::vector<stored_event> events;
        std::size_t readers = 0;
        bool overflowed = false;  // more than options_.history: those answers are resets
    };
    struct channel_state {
        channel_state(const events_options& o, std::size_t shard_count, event_id clock_start,
                      event_id floor)
            : clock(clock_start),
              events(o.history, o.history_age, floor),
              per_shard(shard_count, 0) {}
        id_clock clock;
        history events;
        shared_buffer retained;  // the last event when the channel matches --events-retain
        event_id retained_id{};
        std::vector<std::uint32_t> per_shard;  // subscriptions per shard
        std::size_t subscribers = 0;
        // Subscribed on the bus: while there are subscribers, and for `linger` after the last.
        bool on_bus = false;
        std::chrono::steady_clock::time_point linger_until{};
        std::shared_ptr<read_recorder> recorder;  // while reads of the shared history run
    };
    // A publication waiting for the shared history's id. Answers may come in any order (a
    // refused append answers at once); they are published in the order they were made.
    struct pending_append {
        std::string channel;
        std::string type;
        std::string data_json;
        bool envelope = true;
        published_callback done;
        bool answered = false;
        std::optional<event_id> id;  // nullopt: not stored, an id of this instance's clock
    };
    struct append_queue {
        std::deque<pending_append> entries;
        std::uint64_t front_serial = 0;  // the serial of entries.front()
    };
    // What the home shard answers a subscription.
    struct answer {
        std::vector<shared_buffer> events;
        event_id watermark{};
        bool resumed = false;
        bool reset = false;
    };

    // `to_bus` false: this instance's subscribers only (an `all` publication from elsewhere).
    // `envelope` false: no StateleSSE envelope (publish_all sends one for all channels).
    void publish_here(std::string channel, std::string type, std::string data_json, bool to_bus,
                      bool envelope, published_callback done);
    // What publish_with_id does on the bus: nothing (local only), publish, or nothing because
    // the shared history published the event as it stored it (history_store::publishes).
    enum class bus_step { none, publish, published };
    // On the home shard: the id is `assigned` (the shared history's), else the next of the
    // channel's clock; then the bus, the envelope, local subscribers and `done`.
    void publish_with_id(std::size_t home, std::string channel, std::string type,
                         std::string data_json, bus_step bus, bool envelope,
                         std::optional<event_id> assigned, published_callback done);
    void on_appended(std::size_t home, std::uint64_t serial, std::optional<event_id> id);
    // An id assigned here (the store refused, or an event that never goes to the bus): in the
    // reserved range while the store assigns the others.
    event_id next_local_id(id_clock& clock);
    // On the home shard: answers a resume from the shared history once the bus subscription
    // is in effect (so every later event either is in the answer or arrives afterwards).
    void resume_from_store(std::size_t home, std::size_t shard, std::uint64_t serial,
                           const std::string& channel, event_id after);
    void on_store_range(std::size_t home, std::size_t shard, std::uint64_t serial,
                        const std::string& channel, event_id after,
                        const std::shared_ptr<read_recorder>& recorder, history_range range);
    void on_all_message(const shared_buffer& payload);
    // Any shard: the StateleSSE envelope of an event published here, when the mode is on.
    void publish_envelope(std::string_view group_id, std::string_view type,
                          std::string_view data_json, std::string_view id);
    // Control shard: an envelope from `{prefix}:events`.
    void on_statelesse_message(const shared_buffer& payload);
    // To the local subscribers of `channel` only, with an id assigned here; nothing when it has
    // none (every envelope reaches every instance: no state for channels nobody here serves).
    void deliver_foreign(std::string channel, std::string type, std::string data_json);
    // Control shard: the all-channel is subscribed while any channel has subscribers here.
    void count_active_channel(bool added);
    channel_state& state_of(std::size_t home, const std::string& channel);
    void attach(std::size_t home, std::size_t shard, std::uint64_t serial, std::string channel,
                std::optional<event_id> resume_from);
    void detach(std::size_t home, std::size_t shard, const std::string& channel);
    // On the home shard: unsubscribes the channel on the bus, if it is.
    void leave_bus(const std::string& channel, channel_state& state);
    void complete(std::size_t shard, std::uint64_t serial, const std::string& channel,
                  answer reply);
    // On the home shard: stores and fans out an event with its id already assigned.
    void distribute(std::size_t home, const std::string& channel, channel_state& state, event_id id,
                    const shared_buffer& sse);
    void deliver_on(std::size_t shard, const std::string& channel, event_id id,
                    const shared_buffer& sse);
    void drop_malformed(std::string_view why);
    template <class F>
    void run_on(std::size_t shard, F f);

    shard_pool& pool_;
    routing::backplane& bus_;
    std::string bus_prefix_;
    std::string all_channel_;
    std::string channel_prefix_;       // the router's, identifies this deployment's envelopes
    std::string statelesse_channel_;   // empty: compatibility off
    std::string statelesse_head_;      // how this deployment's own envelopes start
    std::size_t active_channels_ = 0;  // control shard
    events_options options_;
    channel_patterns retain_;
    switchboard::metrics* counters_;
    history_store* store_;  // null: histories per instance only
    // In every bus payload from here: what comes back with it is this instance's own event
    // (a store that publishes sends it where the bus's echo filter does not see it).
    std::string origin_;
    std::vector<shard_state> shards_;
    std::vector<append_queue> appends_;                                  // per home shard
    std::vector<std::unordered_map<std::string, channel_state>> homes_;  // per home shard
    // Ids for publications to channels over the idle limit, per home shard.
    std::vector<id_clock> overflow_clocks_;
    [[nodiscard]] std::size_t idle_channels_per_home() const noexcept {
        return std::max<std::size_t>(1, options_.max_idle_channels / homes_.size());
    }
    std::atomic<std::uint64_t> malformed_{0};
    std::uint64_t malformed_since_log_ = 0;  // control shard
    std::chrono::steady_clock::time_point last_malformed_log_{};
};

}  // namespace switchboard::events
