#include "routing/router.hpp"

#include "routing/durable/sessions.hpp"

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
    hubs_.push_back(hub_entry{
        std::move(name), scaleout::channels(options_.channel_prefix, std::move(backplane_name))});
    for (auto& shard : shards_) {
        shard.hubs.emplace_back();
    }
    directory_.add_hub();
    return hubs_.size() - 1;
}

namespace {
void remove_member(std::unordered_set<recipient*>& members, recipient* member) {
    members.erase(member);
}
void remove_member(std::vector<recipient*>& members, recipient* member) {
    std::erase(members, member);
}
}  // namespace

void router::add_connection(hub_id hub, const std::string& connection_id,
                            const std::string& user_id, recipient& target) {
    const std::size_t shard = pool_.current_shard();
    auto& registry = shards_[shard].hubs[hub];
    registry.connections[connection_id] = connection_entry{&target, user_id, {}};
    directory_.add(hub, connection_id, shard);
    const auto& channels = hubs_[hub].channels;
    subscribe(channels.connection(connection_id));
    if (!user_id.empty()) {
        registry.users[user_id].push_back(&target);
        subscribe(channels.user(user_id));
    }
    if (presence_ != nullptr) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        presence_->connection_added(
            hubs_[hub].name,
            presence::connection_entry{
                connection_id,
                user_id,
                {},
                static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(now).count())});
    }
    if (connection_observer_) {
        connection_observer_(hub, connection_id, user_id);
    }
}

void router::when_connection_in_effect(hub_id hub, const std::string& connection_id,
                                       std::function<void()> then) {
    const auto& registry = shards_[pool_.current_shard()].hubs[hub];
    const auto it = registry.connections.find(connection_id);
    if (!bus_.shared() || it == registry.connections.end()) {
        return then();
    }
    const auto& channels = hubs_[hub].channels;
    std::vector<std::string> subscribed{channels.connection(connection_id)};
    if (!it->second.user_id.empty()) {
        subscribed.push_back(channels.user(it->second.user_id));
    }
    for (const auto& group : it->second.groups) {
        subscribed.push_back(channels.group(group));
    }
    struct pending {
        std::atomic<std::size_t> remaining;
        std::function<void()> then;
    };
    auto state = std::make_shared<pending>();  // (clang 14: no parenthesized aggregate init)
    state->remaining = subscribed.size();
    state->then = std::move(then);
    auto home = executor(pool_.current_shard());
    for (const auto& channel : subscribed) {
        bus_.when_subscribed(channel, [state, home] {
            if (state->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                boost::asio::post(home, std::move(state->then));
            }
        });
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
            remove_member(found->second, entry.target);
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
    if (presence_ != nullptr) {
        presence_->connection_removed(hubs_[hub].name, connection_id, entry.user_id);
    }
    registry.connections.erase(it);
    directory_.remove(hub, connection_id);
}

router::group_change router::change_group_on(std::size_t shard, hub_id hub,
                                             const std::string& connection_id,
                                             const std::string& group, bool join, bool logged) {
    auto& registry = shards_[shard].hubs[hub];
    const auto it = registry.connections.find(connection_id);
    if (it == registry.connections.end()) {
        return group_change::unknown_connection;
    }
    auto& groups = it->second.groups;
    const auto g = std::find(groups.begin(), groups.end(), group);
    if (join && g == groups.end()) {
        // Every join of every origin (hub method, another instance) passes here.
        const auto limit = options_.max_groups_per_connection;
        if (limit != 0 && groups.size() >= limit) {
            if (options_.group_limit_rejections != nullptr) {
                options_.group_limit_rejections->add();
            }
            return group_change::limit_reached;
        }
        groups.push_back(group);
        registry.groups[group].insert(it->second.target);
        subscribe(hubs_[hub].channels.group(group));
        if (presence_ != nullptr) {
            presence_->group_joined(hubs_[hub].name, connection_id, it->second.user_id, group);
        }
        if (logged && durable_ != nullptr && it->second.target->durable()) {
            durable_->group_changed(hub, connection_id, group, true);
        }
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
        if (presence_ != nullptr) {
            presence_->group_left(hubs_[hub].name, connection_id, group);
        }
        if (logged && durable_ != nullptr && it->second.target->durable()) {
            durable_->group_changed(hub, connection_id, group, false);
        }
    }
    return group_change::applied;
}

void router::restore_groups(hub_id hub, const std::string& connection_id,
                            const std::vector<std::string>& groups) {
    const auto shard = pool_.current_shard();
    auto& registry = shards_[shard].hubs[hub];
    const auto it = registry.connections.find(connection_id);
    if (it == registry.connections.end()) {
        return;
    }
    const auto current = it->second.groups;
    for (const auto& group : current) {
        if (!std::binary_search(groups.begin(), groups.end(), group)) {
            change_group_on(shard, hub, connection_id, group, false, false);
        }
    }
    for (const auto& group : groups) {
        change_group_on(shard, hub, connection_id, group, true, false);
    }
}

error router::group_limit_error() const {
    return make_error("Group limit reached (" + std::to_string(options_.max_groups_per_connection) +
                      " groups per connection).");
}

template <class Reply>
void router::finish_group_change(group_change change, hub_id hub, const std::string& connection_id,
                                 const std::string& group, bool join, Reply& reply) {
    switch (change) {
    case group_change::applied:
        return when_in_effect(hub, group, join, [reply] { reply({}); });
    case group_change::limit_reached:
        return reply(group_limit_error());
    case group_change::unknown_connection:
        return reply(make_error("Connection '" + connection_id + "' does not exist."));
    }
}

void router::change_group(hub_id hub, const std::string& connection_id, const std::string& group,
                          bool join, done_callback done) {
    if (!done) {
        done = [](const expected<void>&) {};
    }
    auto reply = on_calling_shard<expected<void>>(std::move(done));
    // The common case, a hub method adding its caller, is decided on the calling shard.
    const std::size_t current = pool_.current_shard();
    if (current < shards_.size()) {
        const auto change = change_group_on(current, hub, connection_id, group, join);
        if (change != group_change::unknown_connection) {
            return finish_group_change(change, hub, connection_id, group, join, reply);
        }
    }
    const bool local = on_connection_shard(
        hub, connection_id, [this, hub, connection_id, group, join, reply](std::size_t shard) {
            const auto change = change_group_on(shard, hub, connection_id, group, join);
            finish_group_change(change, hub, connection_id, group, join, reply);
        });
    if (local) {
        return;
    }
    if (!bus_.shared()) {
        return reply(make_error("Connection '" + connection_id + "' does not exist."));
    }
    boost::asio::post(pool_.context(control_shard), [this, hub, connection_id, group, join, reply] {
        send_group_command(hub, connection_id, group, join, reply);
    });
}

void router::when_in_effect(hub_id hub, const std::string& group, bool join,
                            std::function<void()> then) {
    // A new member must hear the next message sent to the group from any instance, as with
    // ASP.NET, whose AddToGroupAsync waits for the SUBSCRIBE.
    if (!join) {
        return then();
    }
    bus_.when_subscribed(hubs_[hub].channels.group(group), std::move(then));
}

void router::send(hub_id hub, audience to, message_ptr message) {
    if (to.target == audience::kind::connections) {
        return send_to_connections(hub, std::move(to), std::move(message));
    }
    publish(hub, to, *message);
    deliver_local(hub, std::move(to), message);
}

void router::deliver_local(hub_id hub, audience to, const message_ptr& message) {
    if (shards_.size() == 1 && pool_.current_shard() == 0) {
        return deliver_on(0, hub, to, message);
    }
    auto shared_audience = std::make_shared<const audience>(std::move(to));
    on_every_shard([this, hub, shared_audience, message](std::size_t shard) {
        deliver_on(shard, hub, *shared_audience, message);
    });
}

void router::send_to_connections(hub_id hub, audience to, message_ptr message) {
    // Connections of this instance get it directly, the others through the bus, decided on the
    // spot so the publication keeps its place among the caller's sends.
    std::vector<std::string> remote;
    for (const auto& id : to.names) {
        if (is_excluded(to, id)) {
            continue;
        }
        const bool local =
            on_connection_shard(hub, id, [this, hub, id, message](std::size_t shard) {
                const auto& connections = shards_[shard].hubs[hub].connections;
                if (const auto it = connections.find(id); it != connections.end()) {
                    it->second.target->deliver(message);
                }
            });
        if ((!local || durable_ != nullptr) && bus_.shared()) {
            remote.push_back(hubs_[hub].channels.connection(id));
        }
    }
    publish_to(remote, to, *message);
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
        return deliver_to_members(registry, registry.groups, to, message);
    case audience::kind::users:
        return deliver_to_members(registry, registry.users, to, message);
    }
}

template <class Index>
void router::deliver_to_members(const hub_registry& registry, const Index& index,
                                const audience& to, const message_ptr& message) {
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
                const bool skip =
                    std::any_of(to.excluded.begin(), to.excluded.end(), [&](const std::string& id) {
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
}

void router::invoke_connection(hub_id hub, const std::string& connection_id, message_ptr message,
                               std::chrono::milliseconds timeout, result_callback on_result) {
    // The answer goes back to the asking shard; its callback owns no state of other shards.
    auto reply = on_calling_shard<expected<boost::json::value>>(std::move(on_result));
    const bool local = on_connection_shard(
        hub, connection_id, [this, hub, connection_id, message, timeout, reply](std::size_t shard) {
            auto& connections = shards_[shard].hubs[hub].connections;
            const auto it = connections.find(connection_id);
            if (it == connections.end()) {
                return reply(make_error("Connection '" + connection_id + "' does not exist."));
            }
            it->second.target->invoke(message, timeout, reply);
        });
    if (local) {
        return;
    }
    if (!bus_.shared()) {
        return reply(make_error("Connection '" + connection_id + "' does not exist."));
    }
    boost::asio::post(pool_.context(control_shard),
                      [this, hub, connection_id, message, timeout, reply] {
                          request_remote_result(hub, connection_id, message, timeout, reply);
                      });
}

std::vector<local_connection> router::select_on(std::size_t shard, hub_id hub,
                                                const selection& which) const {
    const auto& registry = shards_[shard].hubs[hub];
    std::vector<local_connection> found;
    const auto take = [&](const std::string& id, const connection_entry& entry) {
        if (std::find(which.excluded.begin(), which.excluded.end(), id) == which.excluded.end()) {
            found.push_back(local_connection{id, entry.user_id, entry.groups, entry.target});
        }
    };
    switch (which.target) {
    case selection::kind::all:
        for (const auto& [id, entry] : registry.connections) {
            take(id, entry);
        }
        break;
    case selection::kind::connection:
        if (const auto it = registry.connections.find(which.name);
            it != registry.connections.end()) {
            take(it->first, it->second);
        }
        break;
    case selection::kind::user:
    case selection::kind::user_in_group:
    case selection::kind::group:
        // Few connections per user, and the group index holds recipients, not ids: walking the
        // connections of this shard is bounded and keeps the registries as they are.
        for (const auto& [id, entry] : registry.connections) {
            const bool user_matches = entry.user_id == which.name;
            const auto& groups = entry.groups;
            const auto in = [&](const std::string& group) {
                return std::find(groups.begin(), groups.end(), group) != groups.end();
            };
            if ((which.target == selection::kind::user && user_matches) ||
                (which.target == selection::kind::group && in(which.name)) ||
                (which.target == selection::kind::user_in_group && user_matches &&
                 in(which.group))) {
                take(id, entry);
            }
        }
        break;
    }
    return found;
}

void router::visit_local(hub_id hub, selection which,
                         std::function<void(const local_connection&)> visit,
                         std::function<void(std::size_t)> done) {
    struct gathering {
        selection which;
        std::function<void(const local_connection&)> visit;
        std::function<void(std::size_t)> done;
        std::atomic<std::size_t> remaining;
        std::atomic<std::size_t> count{0};
    };
    auto state = std::make_shared<gathering>();
    state->which = std::move(which);
    state->visit = std::move(visit);
    state->done = on_calling_shard<std::size_t>(std::move(done));
    state->remaining = shards_.size();
    on_every_shard([this, hub, state](std::size_t shard) {
        // Selected first, visited after: a visitor may change the registry it walks.
        const auto found = select_on(shard, hub, state->which);
        for (const auto& connection : found) {
            if (state->visit) {
                state->visit(connection);
            }
        }
        state->count += found.size();
        if (--state->remaining == 0) {
            state->done(state->count.load());
        }
    });
}

std::size_t router::local_connection_count(hub_id hub, std::size_t shard) const {
    return shards_[shard].hubs[hub].connections.size();
}

}  // namespace switchboard::routing
