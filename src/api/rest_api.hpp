// The REST API in Azure SignalR Service's data-plane shape (/api/hubs/{hub}/...): sends, group
// membership of connections and users, existence checks, closes and health, each taking effect
// cluster-wide through the router and the bus (docs/rest-api.md).
#pragma once

#include "api/access_key.hpp"
#include "api/request.hpp"
#include "api/rest_options.hpp"
#include "api/user_groups.hpp"
#include "core/metrics.hpp"
#include "core/shard_pool.hpp"
#include "http/server.hpp"
#include "hub/hub_server.hpp"
#include "routing/backplane.hpp"
#include "routing/router.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::api {

// What the REST API cannot do through the ASP.NET scale-out protocol (closes, existence checks,
// user-group memberships, leaving all groups) travels as small JSON commands on its own bus
// channels, "<prefix>switchboard:rest:all" and "<prefix>switchboard:rest:reply:<server>".
//
// Thread safety: handle() runs on the request's shard; bus messages and pending queries live on
// the router's control shard; the user-group store has its own lock.
class rest_api final : public routing::backplane_handler {
public:
    // Throws std::runtime_error for a bad key or connection string (configuration time).
    rest_api(shard_pool& shards, routing::router& router, routing::backplane& bus,
             hub::hub_server& hubs, rest_options options, switchboard::metrics* counters);

    [[nodiscard]] bool enabled() const noexcept { return auth_.has_value(); }
    // "<prefix>switchboard:rest:": the bus channels to route here.
    [[nodiscard]] const std::string& bus_prefix() const noexcept { return bus_prefix_; }

    // Before the router starts, on the control shard: subscribes the REST channels.
    void start();
    // Routes everything under /api that no other module took.
    void handle(http::request& req, const std::shared_ptr<http::exchange>& ex);
    // Commands and answers of other instances, on the control shard.
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;
    // Ends expired user-group memberships, and once the bus is up asks the other instances for
    // the memberships made before this one started; about once a second, from any thread.
    void sweep();

private:
    using exchange_ptr = std::shared_ptr<http::exchange>;
    struct head {
        unsigned version = 11;
        bool keep_alive = true;
        bool is_head = false;
    };

    void execute(const api_request& request, routing::hub_id hub, http::request& req,
                 const exchange_ptr& ex, const head& h);
    void send(const api_request& request, routing::hub_id hub, http::request& req,
              const exchange_ptr& ex, const head& h);
    // 200 when a connection of `which` is here or on another instance, else 404 with `code`.
    void exists(routing::hub_id hub, routing::selection which, std::string code,
                std::string message, const exchange_ptr& ex, const head& h);

    // Presence reads (docs/presence.md): a page as JSON, answered on the request's shard.
    void read_presence(const api_request& request, routing::hub_id hub, const exchange_ptr& ex,
                       const head& h);
    void respond_json(const exchange_ptr& ex, const head& h, const boost::json::object& body);

    // Applies a command on this instance (the caller's request, or another instance's).
    void apply_close(routing::hub_id hub, routing::selection which,
                     std::optional<std::string> reason, std::function<void(std::size_t)> done);
    void apply_leave_all(routing::hub_id hub, routing::selection which,
                         std::function<void(std::size_t)> done);
    // False when the membership store is full (nothing applied).
    bool apply_user_group(routing::hub_id hub, const std::string& user, const std::string& group,
                          std::string_view action, std::optional<std::int64_t> ttl,
                          std::function<void(std::size_t)> done);

    // Bus side: fire-and-forget commands, and queries answered by whoever holds a match.
    void broadcast(boost::json::object command);
    void query(routing::hub_id hub, const routing::selection& which,
               std::function<void(bool)> answer);
    void on_command(const boost::json::object& command);
    // Control shard: answers a starting instance's request for every user-group membership.
    void send_user_groups(const std::string& asker);
    void receive_user_groups(const boost::json::object& message);

    [[nodiscard]] std::optional<routing::hub_id> find_hub(std::string_view key) const;
    enum outcome : unsigned char { executed, refused };
    void count(outcome what);
    void respond(const exchange_ptr& ex, const head& h, unsigned status);
    void respond_error(const exchange_ptr& ex, const head& h, unsigned status,
                       std::string_view code, std::string_view message);

    struct pending_query {
        std::unique_ptr<boost::asio::steady_timer> timer;
        std::function<void(bool)> answer;
    };

    shard_pool& shards_;
    routing::router& router_;
    routing::backplane& bus_;
    hub::hub_server& hubs_;
    rest_options options_;
    switchboard::metrics* counters_;  // may be null (tests)
    std::optional<access_key_auth> auth_;
    user_group_store user_groups_;
    std::string bus_prefix_;
    std::string all_channel_;
    std::string reply_channel_;
    std::atomic<bool> synced_{false};  // asked the others for their user-group memberships
    // Control shard only.
    std::uint64_t last_query_id_ = 0;
    std::unordered_map<std::uint64_t, pending_query> pending_;
};

}  // namespace switchboard::api
