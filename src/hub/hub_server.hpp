// Hosts the hubs: creates hub connections for the transports, runs each shard's heartbeat,
// and closes every connection on shutdown.
#pragma once

#include "core/config.hpp"
#include "core/shard_pool.hpp"
#include "hub/hub.hpp"
#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

namespace switchboard::hub {

class hub_connection;

// Thread safety: hubs are added before start(); afterwards everything per shard runs on that
// shard, and connection_count() may be read from anywhere.
class hub_server {
public:
    hub_server(shard_pool& shards, routing::router& router, const hub_options& options);
    ~hub_server();

    routing::hub_id add_hub(std::shared_ptr<const hub_definition> definition);
    [[nodiscard]] const hub_definition& definition(routing::hub_id hub) const {
        return *hubs_[hub];
    }
    // Hubs added so far; ids run from 0 to hub_count() - 1.
    [[nodiscard]] std::size_t hub_count() const noexcept { return hubs_.size(); }

    // The transport endpoint's factory: a new hub connection on the calling shard.
    std::shared_ptr<transport::connection_application> create_connection(
        routing::hub_id hub, const transport::connection_ptr& connection);

    void start();
    // Sends every client a Close with allowReconnect; connections end as clients leave.
    void close_all();
    // Drops every remaining socket at once (the drain deadline passed): every connection ends
    // while the hubs still exist, none is left for the shards' teardown.
    void terminate_all();
    void stop();

    [[nodiscard]] std::size_t connection_count() const noexcept { return live_count_.load(); }

    routing::router& router() noexcept { return router_; }
    const hub_options& options() const noexcept { return options_; }

    // From the presence store, on the control shard: the hub named by the change hears it.
    void on_presence_change(const presence::user_change& change);

    // Called by hub connections when they end, on their shard.
    void forget(hub_connection* connection, std::size_t shard);

private:
    struct shard_state {
        explicit shard_state(boost::asio::io_context& context) : heartbeat(context) {}
        boost::asio::steady_timer heartbeat;
        std::unordered_set<hub_connection*> live;
    };

    void schedule_heartbeat(std::size_t shard);
    // Runs `action` on every live connection of `shard` (on that shard).
    void for_each_live(std::size_t shard, const std::function<void(hub_connection&)>& action);
    // Posts for_each_live to every shard.
    void on_every_shard(const std::function<void(hub_connection&)>& action);

    shard_pool& pool_;
    routing::router& router_;
    const hub_options& options_;
    std::vector<std::shared_ptr<const hub_definition>> hubs_;
    std::vector<std::unique_ptr<shard_state>> shards_;
    std::atomic<std::size_t> live_count_{0};
    std::atomic<bool> stopped_{false};
    std::chrono::milliseconds heartbeat_period_;
};

}  // namespace switchboard::hub
