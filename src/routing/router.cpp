#include "routing/router.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>

namespace switchboard::routing {

namespace {

bool is_excluded(const audience& to, const std::string& connection_id) {
    return std::find(to.excluded.begin(), to.excluded.end(), connection_id) != to.excluded.end();
}

}  // namespace

router::router(shard_pool& shards, backplane& bus)
    : pool_(shards), bus_(bus), shards_(shards.size()) {}

hub_id router::add_hub(std::string name) {
    hub_names_.push_back(std::move(name));
    for (auto& shard : shards_) {
        shard.hubs.emplace_back();
    }
    return hub_names_.size() - 1;
}

template <class F>
void router::on_every_shard(F f) {
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

void router::add_connection(hub_id hub, const std::string& connection_id,
                            const std::string& user_id, recipient& target) {
    auto& registry = shards_[pool_.current_shard()].hubs[hub];
    registry.connections[connection_id] = connection_entry{&target, user_id, {}};
    if (!user_id.empty()) {
        registry.users[user_id].insert(&target);
    }
}

void router::remove_connection(hub_id hub, const std::string& connection_id, std::size_t shard) {
    auto& registry = shards_[shard].hubs[hub];
    const auto it = registry.connections.find(connection_id);
    if (it == registry.connections.end()) {
        return;
    }
    auto& entry = it->second;
    const auto forget = [&](auto& index, const std::string& key) {
        const auto found = index.find(key);
        if (found != index.end()) {
            found->second.erase(entry.target);
            if (found->second.empty()) {
                index.erase(found);
            }
        }
    };
    if (!entry.user_id.empty()) {
        forget(registry.users, entry.user_id);
    }
    for (const auto& group : entry.groups) {
        forget(registry.groups, group);
    }
    registry.connections.erase(it);
}

bool router::change_group_on(std::size_t shard, hub_id hub, const std::string& connection_id,
                             const std::string& group, bool join) {
    auto& registry = shards_[shard].hubs[hub];
    const auto it = registry.connections.find(connection_id);
    if (it == registry.connections.end()) {
        return false;
    }
    auto& groups = it->second.groups;
    const auto g = std::find(groups.begin(), groups.end(), group);
    if (join && g == groups.end()) {
        groups.push_back(group);
        registry.groups[group].insert(it->second.target);
    } else if (!join && g != groups.end()) {
        groups.erase(g);
        const auto members = registry.groups.find(group);
        if (members != registry.groups.end()) {
            members->second.erase(it->second.target);
            if (members->second.empty()) {
                registry.groups.erase(members);
            }
        }
    }
    return true;
}

void router::change_group(hub_id hub, const std::string& connection_id, const std::string& group,
                          bool join) {
    // The common case, a hub method adding its caller, completes before the method returns.
    const std::size_t current = pool_.current_shard();
    if (current < shards_.size() && change_group_on(current, hub, connection_id, group, join)) {
        return;
    }
    on_every_shard([this, hub, connection_id, group, join](std::size_t shard) {
        change_group_on(shard, hub, connection_id, group, join);
    });
}

void router::send(hub_id hub, audience to, message_ptr message) {
    if (shards_.size() == 1 && pool_.current_shard() == 0) {
        return deliver_on(0, hub, to, message);
    }
    auto shared_audience = std::make_shared<const audience>(std::move(to));
    on_every_shard([this, hub, shared_audience, message](std::size_t shard) {
        deliver_on(shard, hub, *shared_audience, message);
    });
}

void router::deliver_on(std::size_t shard, hub_id hub, const audience& to,
                        const message_ptr& message) {
    auto& registry = shards_[shard].hubs[hub];
    switch (to.target) {
    case audience::kind::all:
        for (auto& [id, entry] : registry.connections) {
            if (!is_excluded(to, id)) {
                entry.target->deliver(message);
            }
        }
        return;
    case audience::kind::connections:
        for (const auto& id : to.names) {
            const auto it = registry.connections.find(id);
            if (it != registry.connections.end() && !is_excluded(to, id)) {
                it->second.target->deliver(message);
            }
        }
        return;
    case audience::kind::groups:
    case audience::kind::users: {
        const auto& index = to.target == audience::kind::groups ? registry.groups : registry.users;
        // A connection in two of the named groups (or of two named users) gets one copy.
        std::unordered_set<recipient*> delivered;
        for (const auto& name : to.names) {
            const auto members = index.find(name);
            if (members == index.end()) {
                continue;
            }
            for (auto* member : members->second) {
                if (to.names.size() > 1 && !delivered.insert(member).second) {
                    continue;
                }
                if (!to.excluded.empty()) {
                    const auto& connections = registry.connections;
                    const bool skip = std::any_of(
                        to.excluded.begin(), to.excluded.end(), [&](const std::string& id) {
                            const auto e = connections.find(id);
                            return e != connections.end() && e->second.target == member;
                        });
                    if (skip) {
                        continue;
                    }
                }
                member->deliver(message);
            }
        }
        return;
    }
    }
}

void router::invoke_connection(hub_id hub, const std::string& connection_id, message_ptr message,
                               std::chrono::milliseconds timeout, result_callback on_result) {
    const std::size_t origin = pool_.current_shard();
    // The answer goes back to the asking shard; its callback owns no state of other shards.
    auto reply = [this, origin, on_result = std::move(on_result)](expected<boost::json::value> r) {
        if (origin >= shards_.size()) {
            return on_result(std::move(r));
        }
        boost::asio::post(pool_.context(origin),
                          [on_result, r = std::move(r)]() mutable { on_result(std::move(r)); });
    };
    struct search {
        std::atomic<std::size_t> remaining;
        std::atomic<bool> found{false};
    };
    auto state = std::make_shared<search>();
    state->remaining = shards_.size();
    on_every_shard([this, hub, connection_id, message, timeout, reply, state](std::size_t shard) {
        auto& registry = shards_[shard].hubs[hub];
        const auto it = registry.connections.find(connection_id);
        if (it != registry.connections.end()) {
            state->found = true;
            it->second.target->invoke(message, timeout, reply);
        }
        // The last shard to look reports a miss; a hit was stored before its decrement.
        if (state->remaining.fetch_sub(1) == 1 && !state->found) {
            reply(make_error("Connection '" + connection_id + "' does not exist."));
        }
    });
}

void router::on_backplane_message(std::string_view, const shared_buffer&) {
    // Nothing publishes yet: the in-memory bus of a single instance has no other instances.
}

std::size_t router::local_connection_count(hub_id hub, std::size_t shard) const {
    return shards_[shard].hubs[hub].connections.size();
}

}  // namespace switchboard::routing
