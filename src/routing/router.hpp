// The HubLifetimeManager role: who is connected where (per-shard registries of connections,
// users and groups) and delivery of messages to all, connections, groups or users.
#pragma once

#include "core/expected.hpp"
#include "core/metrics.hpp"
#include "core/shard_pool.hpp"
#include "presence/presence_store.hpp"
#include "routing/backplane.hpp"
#include "routing/connection_directory.hpp"
#include "routing/scaleout/channels.hpp"
#include "routing/serialized_message.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::routing {

namespace durable {
class sessions;
}

// A client result (or why there is none), delivered on the shard that asked.
using result_callback = std::function<void(expected<boost::json::value>)>;
// Completion of a group change: an error when no instance holds the connection in time.
using done_callback = std::function<void(expected<void>)>;

// What the router needs of a connected client; the hub connection implements it.
class recipient {
public:
    virtual ~recipient() = default;
    // Queues `message` for the client; called on the recipient's shard only.
    virtual void deliver(const message_ptr& message) = 0;
    // Sends `message` as an invocation with an id (message->invocation_id() when set, else one
    // of its own) and reports the client's Completion through `on_result` (called once, on the
    // recipient's shard), or an error after `timeout`.
    virtual void invoke(const message_ptr& message, std::chrono::milliseconds timeout,
                        result_callback on_result) = 0;
    // Ends the connection from the server side (REST close): a Close message with `reason`
    // as its error, then the transport closes. Called on the recipient's shard. The default
    // does nothing, for recipients that cannot be closed (test doubles).
    virtual void disconnect(std::optional<std::string> reason) { (void)reason; }
    // Durable mode serves this recipient from the log (routing/durable/): the router's own
    // deliveries are not its messages, and its group changes go into the log as markers.
    [[nodiscard]] virtual bool durable() const noexcept { return false; }
};

// Which connections of this instance a local query or action (the REST API's existence
// checks, closes, group sweeps) applies to.
struct selection {
    enum class kind : unsigned char { all, connection, user, group, user_in_group };
    kind target = kind::all;
    std::string name;   // connection id, user id or group; user_in_group: the user
    std::string group;  // user_in_group only
    std::vector<std::string> excluded;
};

// One selected connection, as the visitor of router::visit_local sees it (copies: the visitor
// may change the groups it lists).
struct local_connection {
    std::string connection_id;
    std::string user_id;
    std::vector<std::string> groups;
    recipient* target = nullptr;
};

// Who receives a message. `excluded` connection ids are skipped whatever the kind.
struct audience {
    enum class kind : unsigned char { all, connections, groups, users };
    kind target = kind::all;
    std::vector<std::string> names;
    std::vector<std::string> excluded;

    static audience all_except(std::vector<std::string> excluded = {}) {
        return {kind::all, {}, std::move(excluded)};
    }
    static audience connections(std::vector<std::string> ids) {
        return {kind::connections, std::move(ids), {}};
    }
    static audience groups(std::vector<std::string> names, std::vector<std::string> excluded = {}) {
        return {kind::groups, std::move(names), std::move(excluded)};
    }
    static audience users(std::vector<std::string> ids) {
        return {kind::users, std::move(ids), {}};
    }
};

using hub_id = std::size_t;

// How this instance appears on the backplane (backplanes.md §3.9).
struct router_options {
    // Unique per instance: group-command acks and client results come back to channels named
    // after it. The instance sets hostname + random suffix, as ASP.NET does.
    std::string server_name = "switchboard";
    // Raw bytes before every channel name (StackExchange.Redis ChannelPrefix): lets several
    // applications share one Redis.
    std::string channel_prefix;
    // How long a group change for a connection on another instance waits for its ack. The ack
    // takes one bus round trip; 10 s rides out a Redis failover yet fails well before
    // ASP.NET's 30 s.
    std::chrono::milliseconds group_ack_timeout{10000};
    // How long an instance keeps a client-result request from another instance open when its
    // client never answers: the asking instance applies its own timeout, this only bounds
    // the bookkeeping if that instance went away.
    std::chrono::milliseconds remote_result_timeout{std::chrono::minutes(5)};
    // Groups one connection may be in (0: unlimited); a join beyond it fails with "Group limit
    // reached". A join requested by another instance is then not acknowledged, so it fails
    // there after group_ack_timeout (the ASP.NET ack carries no error).
    std::size_t max_groups_per_connection = 0;
    // Counts refused joins when set; outlives the router.
    counter* group_limit_rejections = nullptr;
};

// Local delivery and the scale-out protocol in one place: every send reaches local recipients
// directly and, when other instances may listen, is published once in the ASP.NET Core Redis
// backplane format (whatever the bus), so a .NET server on the same Redis understands it.
//
// Thread safety: registries are per shard and touched only on their shard; a call made on
// shard s changes or reads shard s directly and posts to the others (never a lock). Requests
// waiting for another instance (group acks, client results) live on the control shard, where
// the backplane delivers.
// Invariant: a recipient registered here stays alive until remove_connection() on its shard.
class router final : public backplane_handler {
public:
    // The backplane delivers incoming messages on this shard.
    static constexpr std::size_t control_shard = 0;

    router(shard_pool& shards, backplane& bus, router_options options = {});

    // Registers a hub before the shards start; returns its id. `backplane_name` names the hub
    // on the bus (a .NET hub's full type name to share Redis with ASP.NET); empty: `name`.
    hub_id add_hub(std::string name, std::string backplane_name = {});
    [[nodiscard]] const std::string& hub_name(hub_id hub) const { return hubs_[hub].name; }
    [[nodiscard]] const router_options& options() const noexcept { return options_; }

    // On the control shard, once the hubs are added: subscribes the instance channels and
    // starts the backplane. stop() ends every wait for another instance and stops it.
    void start();
    void stop();

    // Before start(): every connection, disconnection, join and leave of this instance is
    // reported to `store` (it outlives the router), whatever asked for it (a hub method,
    // another instance, the REST API).
    void set_presence(presence::store* store) noexcept { presence_ = store; }
    [[nodiscard]] presence::store* presence() const noexcept { return presence_; }
    // Before start(): durable mode's sessions (they outlive the router). Sends to connection
    // ids are then published even for connections of this instance, so that durable ones get
    // them from the log.
    void set_durable(durable::sessions* sessions) noexcept { durable_ = sessions; }
    [[nodiscard]] durable::sessions* durable_sessions() const noexcept { return durable_; }
    [[nodiscard]] const scaleout::channels& hub_channels(hub_id hub) const {
        return hubs_[hub].channels;
    }
    [[nodiscard]] std::size_t hub_count() const noexcept { return hubs_.size(); }
    // On the connection's shard: makes a taken-over connection's groups `groups` (sorted)
    // without logging the changes (the log already holds them).
    void restore_groups(hub_id hub, const std::string& connection_id,
                        const std::vector<std::string>& groups);
    // The executor of the shard this thread runs (hub code answering asynchronously).
    [[nodiscard]] boost::asio::any_io_executor current_executor() {
        return executor(pool_.current_shard());
    }

    // Called on the connection's shard.
    void add_connection(hub_id hub, const std::string& connection_id, const std::string& user_id,
                        recipient& target);
    // On the connection's shard, right after add_connection: runs `then` on this shard once
    // the bus carries everything addressed to the connection, its user and its groups so far
    // (at once on a private bus), so a send from another instance after the handshake reaches
    // it. ASP.NET answers the handshake before its SUBSCRIBEs; such a send can be lost there.
    void when_connection_in_effect(hub_id hub, const std::string& connection_id,
                                   std::function<void()> then);
    // On the connection's shard, which is named because teardown may run after the shard
    // threads stopped.
    void remove_connection(hub_id hub, const std::string& connection_id, std::size_t shard);

    // Any connection of any instance, from any shard. `done` (optional) runs on the calling
    // shard: at once for a connection of this shard, after the owner's ack for another
    // instance's, or with an error when no instance acknowledged in time.
    void add_to_group(hub_id hub, const std::string& connection_id, const std::string& group,
                      done_callback done = {}) {
        change_group(hub, connection_id, group, true, std::move(done));
    }
    void remove_from_group(hub_id hub, const std::string& connection_id, const std::string& group,
                           done_callback done = {}) {
        change_group(hub, connection_id, group, false, std::move(done));
    }

    // Invokes `message` on one connection of any instance and reports its result through
    // `on_result` on the calling shard: an error after `timeout`, or at once ("Connection
    // '<id>' does not exist.") when no instance can have it.
    void invoke_connection(hub_id hub, const std::string& connection_id, message_ptr message,
                           std::chrono::milliseconds timeout, result_callback on_result);

    [[nodiscard]] boost::asio::any_io_executor executor(std::size_t shard) {
        return pool_.context(shard).get_executor();
    }

    // Delivers to local recipients (encoding at most once per protocol) and publishes once for
    // the recipients other instances may hold.
    void send(hub_id hub, audience to, message_ptr message);

    // Before start(): bus channels starting with `prefix` (the full bus name, channel_prefix
    // included) go to `listener` instead of the hubs, on the control shard. Other modules
    // (events/) share the bus through this: the bus has one handler, the router.
    void add_channel_listener(std::string prefix, backplane_handler& listener) {
        listeners_.push_back({std::move(prefix), &listener});
    }

    // Before start(): runs after every add_connection, on the connection's shard (the REST
    // API joins a new connection to its user's groups there).
    using connection_observer =
        std::function<void(hub_id hub, const std::string& connection_id, const std::string& user)>;
    void set_connection_observer(connection_observer observer) {
        connection_observer_ = std::move(observer);
    }

    // This instance only: calls `visit` (on each shard, for that shard's connections) with every
    // connection of `hub` that `which` selects, then `done` with how many there were, on the
    // calling shard. Bounded by the connections of this instance; never touches the bus.
    void visit_local(hub_id hub, selection which,
                     std::function<void(const local_connection&)> visit,
                     std::function<void(std::size_t)> done);

    // Messages other instances published, on the control shard.
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;

    // Messages from the bus that were not in the scale-out format and were dropped (a metric).
    // Any thread.
    [[nodiscard]] std::uint64_t malformed_backplane_messages() const noexcept {
        return malformed_.load(std::memory_order_relaxed);
    }

    // Connections of `hub` on the calling shard (for tests and metrics).
    [[nodiscard]] std::size_t local_connection_count(hub_id hub, std::size_t shard) const;
    // Visits every recipient of every hub on `shard` (shutdown, heartbeats).
    template <class F>
    void for_each_on_shard(std::size_t shard, F&& f) {
        for (auto& registry : shards_[shard].hubs) {
            for (auto& [id, entry] : registry.connections) {
                f(*entry.target);
            }
        }
    }

private:
    // Counts a message from the bus that failed to decode and logs at most once a second
    // (a foreign or broken publisher must not flood the log). Control shard.
    void drop_malformed(std::string_view what, std::string_view why);

    struct connection_entry {
        recipient* target = nullptr;
        std::string user_id;
        std::vector<std::string> groups;  // few per connection: a vector beats a set
    };
    struct hub_registry {
        std::unordered_map<std::string, connection_entry> connections;
        // A user usually has a few connections (at most --max-connections-per-user, 100 by
        // default): a vector, not a set, which costs a node and a bucket array per user.
        std::unordered_map<std::string, std::vector<recipient*>> users;
        std::unordered_map<std::string, std::unordered_set<recipient*>> groups;
    };
    template <class Index>
    static void deliver_to_members(const hub_registry& registry, const Index& index,
                                   const audience& to, const message_ptr& message);
    struct shard_state {
        std::vector<hub_registry> hubs;
    };

    struct hub_entry {
        std::string name;
        scaleout::channels channels;
    };
    // A request to another instance, on the control shard until answered or timed out.
    struct pending_request {
        std::unique_ptr<boost::asio::steady_timer> timer;
        std::function<void(expected<boost::json::value>)> on_answer;
    };

    // Runs f(shard) on every shard: inline for the calling one, posted to the others.
    template <class F>
    void on_every_shard(F f);
    // Runs f(shard) on the shard holding `connection_id`, inline when it is the calling one;
    // false when this instance does not hold it.
    template <class F>
    bool on_connection_shard(hub_id hub, const std::string& connection_id, F f);
    // Wraps `callback` to run on the calling shard.
    template <class T>
    std::function<void(T)> on_calling_shard(std::function<void(T)> callback);

    void change_group(hub_id hub, const std::string& connection_id, const std::string& group,
                      bool join, done_callback done);
    enum class group_change : unsigned char { applied, unknown_connection, limit_reached };
    // unknown_connection when the connection is not on `shard`.
    // `logged`: a durable connection's change goes into the log (not when restoring groups).
    group_change change_group_on(std::size_t shard, hub_id hub, const std::string& connection_id,
                                 const std::string& group, bool join, bool logged = true);
    // The error of a join refused by max_groups_per_connection.
    [[nodiscard]] error group_limit_error() const;
    // Answers `reply` for a change made (or refused) on this instance.
    template <class Reply>
    void finish_group_change(group_change change, hub_id hub, const std::string& connection_id,
                             const std::string& group, bool join, Reply& reply);
    // Runs `then` once a group change made on this instance is in effect on the bus.
    void when_in_effect(hub_id hub, const std::string& group, bool join,
                        std::function<void()> then);
    void deliver_local(hub_id hub, audience to, const message_ptr& message);
    void deliver_on(std::size_t shard, hub_id hub, const audience& to, const message_ptr& message);
    void send_to_connections(hub_id hub, audience to, message_ptr message);
    [[nodiscard]] std::vector<local_connection> select_on(std::size_t shard, hub_id hub,
                                                          const selection& which) const;

    // The backplane half (router_backplane.cpp).
    void subscribe(const std::string& channel) { bus_.subscribe(channel); }
    void unsubscribe(const std::string& channel) { bus_.unsubscribe(channel); }
    void publish(hub_id hub, const audience& to, const serialized_message& message);
    void publish_to(const std::vector<std::string>& channels, const audience& to,
                    const serialized_message& message);
    // Control shard: registers a request answered by answer_request() or failed after timeout.
    template <class Key>
    void await_answer(std::unordered_map<Key, pending_request>& table, const Key& key,
                      std::chrono::milliseconds timeout, std::string timeout_error,
                      std::function<void(expected<boost::json::value>)> on_answer);
    void send_group_command(hub_id hub, const std::string& connection_id, const std::string& group,
                            bool join, done_callback done);
    void request_remote_result(hub_id hub, const std::string& connection_id,
                               const message_ptr& message, std::chrono::milliseconds timeout,
                               result_callback reply);
    void on_invocation(hub_id hub, const scaleout::parsed_channel& channel,
                       const shared_buffer& payload);
    void on_group_command(hub_id hub, const shared_buffer& payload);
    void on_ack(const shared_buffer& payload);
    void on_return(const shared_buffer& payload);

    struct channel_listener {
        std::string prefix;
        backplane_handler* handler = nullptr;
    };

    shard_pool& pool_;
    backplane& bus_;
    router_options options_;
    presence::store* presence_ = nullptr;
    durable::sessions* durable_ = nullptr;
    std::vector<channel_listener> listeners_;  // fixed once started: read without a lock
    connection_observer connection_observer_;  // fixed once started
    std::vector<hub_entry> hubs_;
    std::vector<shard_state> shards_;
    connection_directory directory_;
    // Control shard only.
    std::int32_t last_ack_id_ = 0;
    std::unordered_map<std::int32_t, pending_request> pending_acks_;
    std::unordered_map<std::string, pending_request> pending_results_;
    std::uint64_t malformed_since_log_ = 0;
    std::chrono::steady_clock::time_point last_malformed_log_{};
    std::atomic<std::uint64_t> malformed_{0};  // written on the control shard, read by /metrics
};

template <class F>
inline void router::on_every_shard(F f) {
    const std::size_t current = pool_.current_shard();
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        if (shard != current) {
            boost::asio::post(pool_.context(shard), [f, shard] { f(shard); });
        }
    }
    if (current < shards_.size()) {
        f(current);
    }
}

template <class F>
inline bool router::on_connection_shard(hub_id hub, const std::string& connection_id, F f) {
    const std::size_t current = pool_.current_shard();
    if (current < shards_.size() &&
        shards_[current].hubs[hub].connections.contains(connection_id)) {
        f(current);
        return true;
    }
    const auto shard = directory_.find(hub, connection_id);
    if (!shard) {
        return false;
    }
    boost::asio::post(pool_.context(*shard), [f = std::move(f), shard = *shard] { f(shard); });
    return true;
}

template <class T>
std::function<void(T)> router::on_calling_shard(std::function<void(T)> callback) {
    const std::size_t origin = pool_.current_shard();
    if (origin >= shards_.size()) {
        return callback;
    }
    return [this, origin, callback = std::move(callback)](T value) {
        boost::asio::post(pool_.context(origin), [callback, value = std::move(value)]() mutable {
            callback(std::move(value));
        });
    };
}

}  // namespace switchboard::routing
