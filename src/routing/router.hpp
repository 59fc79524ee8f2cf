// The HubLifetimeManager role: who is connected where (per-shard registries of connections,
// users and groups) and delivery of messages to all, connections, groups or users.
#pragma once

#include "core/shard_pool.hpp"
#include "routing/backplane.hpp"
#include "routing/serialized_message.hpp"

#include "core/expected.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::routing {

// A client result (or why there is none), delivered on the shard that asked.
using result_callback = std::function<void(expected<boost::json::value>)>;

// What the router needs of a connected client; the hub connection implements it.
class recipient {
public:
    virtual ~recipient() = default;
    // Queues `message` for the client; called on the recipient's shard only.
    virtual void deliver(const message_ptr& message) = 0;
    // Sends `message` as an invocation with an id and reports the client's Completion through
    // `on_result` (called once, on the recipient's shard), or an error after `timeout`.
    virtual void invoke(const message_ptr& message, std::chrono::milliseconds timeout,
                        result_callback on_result) = 0;
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

// Thread safety: registries are per shard and touched only on their shard; a call made on
// shard s changes or reads shard s directly and posts to the others (never a lock).
// Invariant: a recipient registered here stays alive until remove_connection() on its shard.
class router final : public backplane_handler {
public:
    router(shard_pool& shards, backplane& bus);

    // Registers a hub by name before the shards start; returns its id.
    hub_id add_hub(std::string name);
    [[nodiscard]] const std::string& hub_name(hub_id hub) const { return hub_names_[hub]; }

    // Called on the connection's shard.
    void add_connection(hub_id hub, const std::string& connection_id, const std::string& user_id,
                        recipient& target);
    // On the connection's shard, which is named because teardown may run after the shard
    // threads stopped.
    void remove_connection(hub_id hub, const std::string& connection_id, std::size_t shard);

    // Any connection of this instance, from any shard.
    void add_to_group(hub_id hub, const std::string& connection_id, const std::string& group) {
        change_group(hub, connection_id, group, true);
    }
    void remove_from_group(hub_id hub, const std::string& connection_id, const std::string& group) {
        change_group(hub, connection_id, group, false);
    }

    // Invokes `message` on one connection of this instance and reports its result through
    // `on_result` on the calling shard ("Connection '<id>' does not exist." when none has it).
    void invoke_connection(hub_id hub, const std::string& connection_id, message_ptr message,
                           std::chrono::milliseconds timeout, result_callback on_result);

    [[nodiscard]] boost::asio::any_io_executor executor(std::size_t shard) {
        return pool_.context(shard).get_executor();
    }

    // Delivers to local recipients (encoding at most once per protocol) without going through
    // the backplane.
    void send(hub_id hub, audience to, message_ptr message);

    // Messages other instances published (issue 4 gives them the ASP.NET Redis format).
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;

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
    struct connection_entry {
        recipient* target = nullptr;
        std::string user_id;
        std::vector<std::string> groups;  // few per connection: a vector beats a set
    };
    struct hub_registry {
        std::unordered_map<std::string, connection_entry> connections;
        std::unordered_map<std::string, std::unordered_set<recipient*>> users;
        std::unordered_map<std::string, std::unordered_set<recipient*>> groups;
    };
    struct shard_state {
        std::vector<hub_registry> hubs;
    };

    // Runs f(shard) on every shard: inline for the calling one, posted to the others.
    template <class F>
    void on_every_shard(F f);
    void change_group(hub_id hub, const std::string& connection_id, const std::string& group,
                      bool join);
    // Returns false when the connection is not on `shard`.
    bool change_group_on(std::size_t shard, hub_id hub, const std::string& connection_id,
                         const std::string& group, bool join);
    void deliver_on(std::size_t shard, hub_id hub, const audience& to, const message_ptr& message);

    shard_pool& pool_;
    backplane& bus_;
    std::vector<std::string> hub_names_;
    std::vector<shard_state> shards_;
};

}  // namespace switchboard::routing
