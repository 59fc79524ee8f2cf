#include "hub/hub_server.hpp"

#include "hub/hub_connection.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace switchboard::hub {

hub_server::hub_server(shard_pool& shards, routing::router& router, const hub_options& options)
    : pool_(shards), router_(router), options_(options) {
    for (std::size_t i = 0; i < shards.size(); ++i) {
        shards_.push_back(std::make_unique<shard_state>(shards.context(i)));
    }
    // A quarter of the shortest deadline keeps timeouts within 25% of their setting; one
    // second (ASP.NET's heartbeat) is plenty for the defaults, 10 ms bounds the cost in tests.
    const auto shortest =
        std::min({options.keep_alive_interval, options.client_timeout, options.handshake_timeout});
    heartbeat_period_ =
        std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

hub_server::~hub_server() = default;

routing::hub_id hub_server::add_hub(std::shared_ptr<const hub_definition> definition) {
    const auto id = router_.add_hub(definition->name(), definition->backplane_name());
    hubs_.push_back(std::move(definition));
    return id;
}

std::shared_ptr<transport::connection_application> hub_server::create_connection(
    routing::hub_id hub, const transport::connection_ptr& connection) {
    auto created = std::make_shared<hub_connection>(*this, hub, *hubs_[hub], connection);
    shards_[connection->shard()]->live.insert(created.get());
    ++live_count_;
    if (const auto& adopted = connection->adopted()) {
        created->adopt(*std::static_pointer_cast<const routing::durable::claimed_session>(adopted));
    }
    return created;
}

void hub_server::on_presence_change(const presence::user_change& change) {
    for (routing::hub_id id = 0; id < hubs_.size(); ++id) {
        if (router_.hub_name(id) != change.hub) {
            continue;
        }
        const hub_clients clients(router_, id, {});
        if (auto failure = call_user([&] { hubs_[id]->presence_changed(clients, change); })) {
            report_user_error(
                {metric_hub_error::callback, change.hub, "presence change handler", {}}, *failure,
                nullptr);
        }
    }
}

void hub_server::forget(hub_connection* connection, std::size_t shard) {
    auto& live = shards_[shard]->live;
    if (live.erase(connection) > 0) {
        --live_count_;
    }
}

void hub_server::start() {
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        boost::asio::post(pool_.context(shard), [this, shard] { schedule_heartbeat(shard); });
    }
}

void hub_server::for_each_live(std::size_t shard,
                               const std::function<void(hub_connection&)>& action) {
    // Snapshot first: the action may end a connection, which edits the live set.
    std::vector<std::shared_ptr<hub_connection>> snapshot;
    snapshot.reserve(shards_[shard]->live.size());
    for (auto* connection : shards_[shard]->live) {
        snapshot.push_back(connection->shared_from_this());
    }
    for (const auto& connection : snapshot) {
        action(*connection);
    }
}

void hub_server::on_every_shard(const std::function<void(hub_connection&)>& action) {
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        boost::asio::post(pool_.context(shard),
                          [this, shard, action] { for_each_live(shard, action); });
    }
}

void hub_server::schedule_heartbeat(std::size_t shard) {
    auto& state = *shards_[shard];
    state.heartbeat.expires_after(heartbeat_period_);
    state.heartbeat.async_wait([this, shard](boost::system::error_code ec) {
        if (ec || stopped_) {
            return;
        }
        const auto now = hub_connection::clock::now();
        for_each_live(shard, [now](hub_connection& connection) { connection.on_heartbeat(now); });
        schedule_heartbeat(shard);
    });
}

void hub_server::close_all() {
    on_every_shard([](hub_connection& connection) { connection.close_for_shutdown(); });
}

void hub_server::terminate_all() {
    on_every_shard([](hub_connection& connection) { connection.terminate(); });
}

void hub_server::stop() {
    stopped_ = true;
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        boost::asio::post(pool_.context(shard),
                          [this, shard] { shards_[shard]->heartbeat.cancel(); });
    }
}

}  // namespace switchboard::hub
