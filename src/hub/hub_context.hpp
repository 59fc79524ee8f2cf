// What a hub method sees: the caller's identity, and the ways to reach other clients and
// manage groups (ASP.NET's Hub.Context, Hub.Clients and Hub.Groups).
#pragma once

#include "core/expected.hpp"
#include "hub/guard.hpp"
#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value_from.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::hub {

// A set of recipients; send() encodes the invocation once per protocol in use.
class client_proxy {
public:
    client_proxy(routing::router& router, routing::hub_id hub, routing::audience to)
        : router_(router), hub_(hub), to_(std::move(to)) {}

    // Invokes `target` on every recipient with JSON-convertible arguments (no reply expected).
    template <class... Args>
    void send(std::string target, Args&&... args) {
        boost::json::array arguments;
        arguments.reserve(sizeof...(Args));
        (arguments.push_back(boost::json::value_from(std::forward<Args>(args))), ...);
        send_arguments(std::move(target), std::move(arguments));
    }
    void send_arguments(std::string target, boost::json::array arguments) {
        router_.send(hub_, std::move(to_),
                     routing::make_message(std::move(target), std::move(arguments)));
    }

private:
    routing::router& router_;
    routing::hub_id hub_;
    routing::audience to_;
};

// The clients and groups of one hub as seen from one connection. Copyable and durable: a
// method may keep it (e.g. in a stream's cancel handler) after it returned.
// Thread safety: use it on the connection's shard (proxies may be used from any shard).
class hub_clients {
public:
    using ids = std::vector<std::string>;

    // `counters` (null: none) count what the callbacks given here throw; they outlive the server.
    hub_clients(routing::router& router, routing::hub_id hub, std::string connection_id,
                switchboard::metrics* counters = nullptr)
        : router_(&router),
          hub_(hub),
          connection_id_(std::move(connection_id)),
          counters_(counters) {}

    [[nodiscard]] const std::string& connection_id() const noexcept { return connection_id_; }
    // The calling shard's executor (timers of hub code; answers come back here).
    [[nodiscard]] boost::asio::any_io_executor shard_executor() const {
        return router_->current_executor();
    }

    client_proxy all() const { return proxy(routing::audience::all_except()); }
    client_proxy all_except(ids excluded) const {
        return proxy(routing::audience::all_except(std::move(excluded)));
    }
    client_proxy caller() const { return proxy(routing::audience::connections({connection_id_})); }
    client_proxy others() const { return proxy(routing::audience::all_except({connection_id_})); }
    client_proxy client(std::string id) const {
        return proxy(routing::audience::connections({std::move(id)}));
    }
    client_proxy clients(ids connection_ids) const {
        return proxy(routing::audience::connections(std::move(connection_ids)));
    }
    client_proxy group(std::string name) const {
        return proxy(routing::audience::groups({std::move(name)}));
    }
    client_proxy groups(ids names) const {
        return proxy(routing::audience::groups(std::move(names)));
    }
    client_proxy group_except(std::string name, ids excluded) const {
        return proxy(routing::audience::groups({std::move(name)}, std::move(excluded)));
    }
    client_proxy others_in_group(std::string name) const {
        return proxy(routing::audience::groups({std::move(name)}, {connection_id_}));
    }
    client_proxy user(std::string id) const {
        return proxy(routing::audience::users({std::move(id)}));
    }
    client_proxy users(ids user_ids) const {
        return proxy(routing::audience::users(std::move(user_ids)));
    }

    // For a connection of any instance; `done` (optional) runs on the calling shard once the
    // change is made, or with an error when no instance holds the connection.
    void add_to_group(const std::string& connection_id, const std::string& group,
                      routing::done_callback done = {}) const {
        router_->add_to_group(hub_, connection_id, group, guarded(std::move(done)));
    }
    void remove_from_group(const std::string& connection_id, const std::string& group,
                           routing::done_callback done = {}) const {
        router_->remove_from_group(hub_, connection_id, group, guarded(std::move(done)));
    }

    // Cluster-wide presence of this hub (presence/presence_store.hpp: pages, costs); `done`
    // runs on the calling shard, with an error when presence is off (--presence false).
    void online_users(std::string cursor, std::size_t limit,
                      std::function<void(expected<presence::page<std::string>>)> done) const {
        ask_presence<presence::page<std::string>>(
            [=, this](presence::store& store, auto answer) {
                store.online_users(router_->hub_name(hub_), cursor, limit, std::move(answer));
            },
            std::move(done));
    }
    void user_connections(
        std::string user, std::string cursor, std::size_t limit,
        std::function<void(expected<presence::page<presence::connection_entry>>)> done) const {
        ask_presence<presence::page<presence::connection_entry>>(
            [=, this](presence::store& store, auto answer) {
                store.user_connections(router_->hub_name(hub_), user, cursor, limit,
                                       std::move(answer));
            },
            std::move(done));
    }
    void group_members(
        std::string group, std::string cursor, std::size_t limit,
        std::function<void(expected<presence::page<presence::connection_entry>>)> done) const {
        ask_presence<presence::page<presence::connection_entry>>(
            [=, this](presence::store& store, auto answer) {
                store.group_members(router_->hub_name(hub_), group, cursor, limit,
                                    std::move(answer));
            },
            std::move(done));
    }
    void is_online(std::string user, std::function<void(expected<bool>)> done) const {
        ask_presence<bool>(
            [=, this](presence::store& store, auto answer) {
                store.is_online(router_->hub_name(hub_), user, std::move(answer));
            },
            std::move(done));
    }

    // Shared state on the presence store's backend (presence_store.hpp, state_*): keys with
    // an optional time to live, the same on every instance. `done` runs on the calling shard.
    void state_get(std::string key,
                   std::function<void(expected<std::optional<std::string>>)> done) const {
        ask_presence<std::optional<std::string>>(
            [key = std::move(key)](presence::store& store, auto answer) mutable {
                store.state_get(std::move(key), std::move(answer));
            },
            std::move(done));
    }
    void state_set(
        std::string key, std::string value, std::chrono::milliseconds ttl,
        std::function<void(expected<void>)> done = [](expected<void>) {}) const {
        ask_presence<void>(
            [key = std::move(key), value = std::move(value), ttl](presence::store& store,
                                                                  auto answer) mutable {
                store.state_set(std::move(key), std::move(value), ttl, std::move(answer));
            },
            std::move(done));
    }
    void state_erase(
        std::string key, std::function<void(expected<bool>)> done = [](expected<bool>) {}) const {
        ask_presence<bool>(
            [key = std::move(key)](presence::store& store, auto answer) mutable {
                store.state_erase(std::move(key), std::move(answer));
            },
            std::move(done));
    }
    void state_compare_and_set(std::string key, std::optional<std::string> current,
                               std::string value, std::chrono::milliseconds ttl,
                               std::function<void(expected<bool>)> done) const {
        ask_presence<bool>(
            [key = std::move(key), current = std::move(current), value = std::move(value), ttl](
                presence::store& store, auto answer) mutable {
                store.state_compare_and_set(std::move(key), std::move(current), std::move(value),
                                            ttl, std::move(answer));
            },
            std::move(done));
    }

    // Invokes `target` on one connection and waits for its Completion (a client result).
    // `on_result` runs on the calling shard with the client's value or an error.
    void invoke_client(const std::string& connection_id, std::string target,
                       boost::json::array arguments, std::chrono::milliseconds timeout,
                       std::function<void(expected<boost::json::value>)> on_result) const {
        router_->invoke_connection(
            hub_, connection_id, routing::make_message(std::move(target), std::move(arguments)),
            timeout,
            guard(metric_hub_error::client_result, "client result callback", std::move(on_result)));
    }

private:
    client_proxy proxy(routing::audience to) const { return {*router_, hub_, std::move(to)}; }

    // The store answers on its own shard: the answer goes back to the asking one, through
    // the guard (it is user code).
    template <class T, class Query>
    void ask_presence(Query query, std::function<void(expected<T>)> done) const {
        auto executor = router_->current_executor();
        auto answer = [executor, done = guard(metric_hub_error::callback, "presence callback",
                                              std::move(done))](expected<T> result) mutable {
            boost::asio::post(executor, [done, result = std::move(result)]() mutable {
                done(std::move(result));
            });
        };
        auto* store = router_->presence();
        if (store == nullptr) {
            return answer(make_error("Presence is off on this server."));
        }
        query(*store, std::function<void(expected<T>)>(std::move(answer)));
    }

    // The router calls these on a shard thread: what they throw must stop at this boundary.
    routing::done_callback guarded(routing::done_callback done) const {
        if (!done) {
            return done;  // nothing to run, nothing to wrap (and no allocation)
        }
        return guard(metric_hub_error::callback, "group change callback", std::move(done));
    }
    template <class Callback>
    Callback guard(metric_hub_error place, std::string_view what, Callback callback) const {
        return [callback = std::move(callback), place, what, router = router_, hub = hub_,
                id = connection_id_, counters = counters_](auto result) mutable {
            if (auto failure = call_user([&] { callback(std::move(result)); })) {
                report_user_error({place, router->hub_name(hub), what, id}, *failure, counters);
            }
        };
    }

    routing::router* router_;
    routing::hub_id hub_;
    std::string connection_id_;
    switchboard::metrics* counters_;
};

// Thread safety: valid only during the call it was passed to, on the caller's shard.
class hub_context : public hub_clients {
public:
    hub_context(routing::router& router, routing::hub_id hub, const std::string& connection_id,
                const std::string& user_id, const transport::connection& connection)
        : hub_clients(router, hub, connection_id, connection.metrics()),
          user_id_(user_id),
          connection_(connection),
          executor_(router.executor(connection.shard())) {}

    // Empty for anonymous connections.
    [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }
    // The verified identity (user id, roles, claims); null in development mode, where the
    // user id comes from the `user` query parameter and nothing is verified.
    [[nodiscard]] const switchboard::identity* identity() const noexcept {
        const auto& verified = connection_.request().identity;
        return verified ? &*verified : nullptr;
    }
    [[nodiscard]] bool in_role(std::string_view role) const {
        const auto* who = identity();
        return who != nullptr && who->in_role(role);
    }
    // The HTTP request that opened the connection (query parameters, remote address).
    [[nodiscard]] const transport::request_info& request() const noexcept {
        return connection_.request();
    }
    [[nodiscard]] transport::transport_kind transport() const noexcept {
        return connection_.transport();
    }
    // The caller's shard: timers and deferred work for this connection run here.
    [[nodiscard]] const boost::asio::any_io_executor& executor() const noexcept {
        return executor_;
    }

private:
    const std::string& user_id_;
    const transport::connection& connection_;
    boost::asio::any_io_executor executor_;
};

}  // namespace switchboard::hub
