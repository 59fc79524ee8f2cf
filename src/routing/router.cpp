#include "routing/router.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace switchboard::routing {

namespace {

bool is_excluded(const audience& to, const std::string& connection_id) {
    return std::find(to.excluded.begin(), to.excluded.end(), connection_id) != to.excluded.end();
}

}  // namespace

router::router(shard_pool& shards, backplane& bus, router_options options)
    : pool_(shards), bus_(bus), options_(std::move(options)), shards_(shards.size()) {}

hub_id router::add_hub(std::string name, std::string backplane_name) {
    if (backplane_name.empty()) {
        backplane_name = name;
    }
    hubs_.push_back(hub_entry{std::move(name),
                              redis::channels(options_.channel_prefix, std::move(backplane_name))});
    for (auto& shard : shards_) {
        shard.hubs.emplace_back();
    }
    return hubs_.size() - 1;
}

void router::add_connection(hub_id hub, const std::string& connection_id,
                            const std::string& user_id, recipient& target) {
    auto& registry = shards_[pool_.current_shard()].hubs[hub];
    registry.connections[connection_id] = connection_entry{&target, user_id, {}};
    const auto& channels = hubs_[hub].channels;
    subscribe(channels.connection(connection_id));
    if (!user_id.empty()) {
        registry.users[user_id].insert(&target);
        subscribe(channels.user(user_id));
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
    // Group memberships end here, on this instance only: other instances never knew them
    // (ASP.NET does the same, backplanes.md §3.2).
    const auto& channels = hubs_[hub].channels;
    unsubscribe(channels.connection(connection_id));
    if (!entry.user_id.empty()) {
        forget(registry.users, entry.user_id);
        unsubscribe(channels.user(entry.user_id));
    }
    for (const auto& group : entry.groups) {
        forget(registry.groups, group);
        unsubscribe(channels.group(group));
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
        subscribe(hubs_[hub].channels.group(group));
    } else if (!join && g != groups.end()) {
        groups.erase(g);
        const auto members = registry.groups.find(group);
        if (members != registry.groups.end()) {
            members->second.erase(it->second.target);
            if (members->second.empty()) {
                registry.groups.erase(members);
            }
        }
        unsubscribe(hubs_[hub].channels.group(group));
    }
    return true;
}

void router::change_group(hub_id hub, const std::string& connection_id, const std::string& group,
                          bool join, done_callback done) {
    // The common case, a hub method adding its caller, completes before the method returns.
    const std::size_t current = pool_.current_shard();
    if (current < shards_.size() && change_group_on(current, hub, connection_id, group, join)) {
        if (done) {
            done({});
        }
        return;
    }
    auto reply = on_calling_shard<expected<void>>(
        done ? std::move(done) : done_callback([](const expected<void>&) {}));
    search_shards(
        [this, hub, connection_id, group, join](std::size_t shard) {
            return change_group_on(shard, hub, connection_id, group, join);
        },
        [this, hub, connection_id, group, join, reply](bool found) {
            if (found) {
                return reply({});
            }
            if (!bus_.shared()) {
                return reply(make_error("Connection '" + connection_id + "' does not exist."));
            }
            boost::asio::post(pool_.context(control_shard),
                              [this, hub, connection_id, group, join, reply] {
                                  send_group_command(hub, connection_id, group, join, reply);
                              });
        });
}

void router::send(hub_id hub, audience to, message_ptr message) {
    if (to.target == audience::kind::connections) {
        return send_to_connections(hub, std::move(to), std::move(message));
    }
    publish(hub, to, *message);
    deliver_local(hub, to, message);
}

void router::deliver_local(hub_id hub, const audience& to, const message_ptr& message) {
    if (shards_.size() == 1 && pool_.current_shard() == 0) {
        return deliver_on(0, hub, to, message);
    }
    auto shared_audience = std::make_shared<const audience>(to);
    on_every_shard([this, hub, shared_audience, message](std::size_t shard) {
        deliver_on(shard, hub, *shared_audience, message);
    });
}

void router::send_to_connections(hub_id hub, audience to, message_ptr message) {
    // Only the ids no shard holds go to the bus: a reply to the caller never leaves the shard.
    const std::size_t current = pool_.current_shard();
    if (current < shards_.size()) {
        const auto& connections = shards_[current].hubs[hub].connections;
        const bool all_here = std::all_of(to.names.begin(), to.names.end(), [&](const auto& id) {
            return connections.contains(id);
        });
        if (all_here) {
            return deliver_on(current, hub, to, message);
        }
    }
    struct state {
        audience to;
        message_ptr message;
        std::unique_ptr<std::atomic<bool>[]> found;
    };
    auto shared = std::make_shared<state>(
        state{std::move(to), std::move(message), nullptr});
    shared->found = std::make_unique<std::atomic<bool>[]>(shared->to.names.size());
    search_shards(
        [this, hub, shared](std::size_t shard) {
            const auto& connections = shards_[shard].hubs[hub].connections;
            const auto& names = shared->to.names;
            for (std::size_t i = 0; i < names.size(); ++i) {
                const auto it = connections.find(names[i]);
                if (it != connections.end()) {
                    shared->found[i] = true;
                    if (!is_excluded(shared->to, names[i])) {
                        it->second.target->deliver(shared->message);
                    }
                }
            }
            return false;
        },
        [this, hub, shared](bool) {
            if (!bus_.shared()) {
                return;
            }
            std::vector<std::string> channels;
            const auto& names = shared->to.names;
            for (std::size_t i = 0; i < names.size(); ++i) {
                if (!shared->found[i] && !is_excluded(shared->to, names[i])) {
                    channels.push_back(hubs_[hub].channels.connection(names[i]));
                }
            }
            publish_to(channels, shared->to, *shared->message);
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
    // The answer goes back to the asking shard; its callback owns no state of other shards.
    auto reply = on_calling_shard<expected<boost::json::value>>(std::move(on_result));
    search_shards(
        [this, hub, connection_id, message, timeout, reply](std::size_t shard) {
            auto& registry = shards_[shard].hubs[hub];
            const auto it = registry.connections.find(connection_id);
            if (it == registry.connections.end()) {
                return false;
            }
            it->second.target->invoke(message, timeout, reply);
            return true;
        },
        [this, hub, connection_id, message, timeout, reply](bool found) {
            if (found) {
                return;
            }
            if (!bus_.shared()) {
                return reply(make_error("Connection '" + connection_id + "' does not exist."));
            }
            boost::asio::post(pool_.context(control_shard),
                              [this, hub, connection_id, message, timeout, reply] {
                                  request_remote_result(hub, connection_id, message, timeout,
                                                        reply);
                              });
        });
}

std::size_t router::local_connection_count(hub_id hub, std::size_t shard) const {
    return shards_[shard].hubs[hub].connections.size();
}

}  // namespace switchboard::routing
