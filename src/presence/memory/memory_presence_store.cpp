#include "presence/memory/memory_presence_store.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

namespace switchboard::presence {

template <class F>
void memory_store::run(F f) {
    boost::asio::post(context_, std::move(f));
}

void memory_store::start(change_handler on_change) {
    run([this, on_change = std::move(on_change)]() mutable { on_change_ = std::move(on_change); });
}

void memory_store::stop() {
    run([this] { on_change_ = {}; });
}

void memory_store::report(std::string_view hub, const std::string& user, bool online,
                          const std::string& connection_id) {
    if (on_change_) {
        on_change_(user_change{std::string(hub), user, online, connection_id});
    }
}

void memory_store::connection_added(std::string_view hub, const connection_entry& entry) {
    if (entry.user_id.empty()) {
        return;  // anonymous: in no user's list; a group join records it there
    }
    run([this, hub = std::string(hub), id = entry.connection_id, user = entry.user_id,
         since = entry.connected_at_ms] {
        auto& connections = hubs_[hub].users[user];
        connections[id] = since;
        if (connections.size() == 1) {
            report(hub, user, true, id);
        }
    });
}

void memory_store::connection_removed(std::string_view hub, std::string_view connection_id,
                                      std::string_view user_id) {
    run([this, hub = std::string(hub), id = std::string(connection_id),
         user = std::string(user_id)] {
        const auto found = hubs_.find(hub);
        if (found == hubs_.end()) {
            return;
        }
        auto& state = found->second;
        if (const auto groups = state.connection_groups.find(id);
            groups != state.connection_groups.end()) {
            for (const auto& group : groups->second) {
                if (auto listed = state.groups.find(group); listed != state.groups.end()) {
                    listed->second.erase(id);
                    if (listed->second.empty()) {
                        state.groups.erase(listed);
                    }
                }
            }
            state.connection_groups.erase(groups);
        }
        const auto connections = state.users.find(user);
        if (connections != state.users.end() && connections->second.erase(id) == 1 &&
            connections->second.empty()) {
            state.users.erase(connections);
            report(hub, user, false, id);
        }
    });
}

void memory_store::group_joined(std::string_view hub, std::string_view connection_id,
                                std::string_view user_id, std::string_view group) {
    run([this, hub = std::string(hub), id = std::string(connection_id), user = std::string(user_id),
         group = std::string(group)] {
        auto& state = hubs_[hub];
        std::uint64_t since = 0;
        if (const auto it = state.users.find(user); it != state.users.end()) {
            if (const auto connection = it->second.find(id); connection != it->second.end()) {
                since = connection->second;
            }
        }
        state.groups[group][id] = member{user, since};
        state.connection_groups[id].insert(group);
    });
}

void memory_store::group_left(std::string_view hub, std::string_view connection_id,
                              std::string_view group) {
    run([this, hub = std::string(hub), id = std::string(connection_id),
         group = std::string(group)] {
        const auto found = hubs_.find(hub);
        if (found == hubs_.end()) {
            return;
        }
        auto& state = found->second;
        if (auto listed = state.groups.find(group); listed != state.groups.end()) {
            listed->second.erase(id);
            if (listed->second.empty()) {
                state.groups.erase(listed);
            }
        }
        if (auto groups = state.connection_groups.find(id);
            groups != state.connection_groups.end()) {
            groups->second.erase(group);
            if (groups->second.empty()) {
                state.connection_groups.erase(groups);
            }
        }
    });
}

template <class Map, class Entry>
page<connection_entry> memory_store::page_of(const Map* all, const std::string& cursor,
                                             std::size_t limit, Entry to_entry) const {
    page<connection_entry> result;
    if (all == nullptr) {
        return result;
    }
    auto it = cursor.empty() ? all->begin() : all->upper_bound(cursor);
    for (; it != all->end() && result.entries.size() < limit; ++it) {
        result.entries.push_back(to_entry(*it));
    }
    if (it != all->end() && !result.entries.empty()) {
        result.next = result.entries.back().connection_id;
    }
    return result;
}

void memory_store::online_users(std::string_view hub, std::string cursor, std::size_t limit,
                                page_callback<std::string> done) {
    run([this, hub = std::string(hub), cursor = std::move(cursor), limit, done = std::move(done)] {
        page<std::string> result;
        if (const auto found = hubs_.find(hub); found != hubs_.end()) {
            const auto& users = found->second.users;
            auto it = cursor.empty() ? users.begin() : users.upper_bound(cursor);
            for (; it != users.end() && result.entries.size() < limit; ++it) {
                result.entries.push_back(it->first);
            }
            if (it != users.end() && !result.entries.empty()) {
                result.next = result.entries.back();
            }
        }
        done(std::move(result));
    });
}

void memory_store::user_connections(std::string_view hub, std::string_view user_id,
                                    std::string cursor, std::size_t limit,
                                    page_callback<connection_entry> done) {
    run([this, hub = std::string(hub), user = std::string(user_id), cursor = std::move(cursor),
         limit, done = std::move(done)] {
        const std::map<std::string, std::uint64_t>* all = nullptr;
        if (const auto found = hubs_.find(hub); found != hubs_.end()) {
            if (const auto it = found->second.users.find(user); it != found->second.users.end()) {
                all = &it->second;
            }
        }
        done(page_of(all, cursor, limit, [&](const auto& entry) {
            return connection_entry{entry.first, user, instance_, entry.second};
        }));
    });
}

void memory_store::group_members(std::string_view hub, std::string_view group, std::string cursor,
                                 std::size_t limit, page_callback<connection_entry> done) {
    run([this, hub = std::string(hub), group = std::string(group), cursor = std::move(cursor),
         limit, done = std::move(done)] {
        const members* all = nullptr;
        if (const auto found = hubs_.find(hub); found != hubs_.end()) {
            if (const auto it = found->second.groups.find(group);
                it != found->second.groups.end()) {
                all = &it->second;
            }
        }
        done(page_of(all, cursor, limit, [&](const auto& entry) {
            return connection_entry{entry.first, entry.second.user_id, instance_,
                                    entry.second.connected_at_ms};
        }));
    });
}

void memory_store::is_online(std::string_view hub, std::string_view user_id,
                             std::function<void(expected<bool>)> done) {
    run([this, hub = std::string(hub), user = std::string(user_id), done = std::move(done)] {
        const auto found = hubs_.find(hub);
        done(found != hubs_.end() && found->second.users.contains(user));
    });
}

memory_store::state_entry* memory_store::find_state(const std::string& key) {
    const auto it = state_.find(key);
    if (it == state_.end()) {
        return nullptr;
    }
    const auto expires = it->second.expires;
    if (expires != std::chrono::steady_clock::time_point{} &&
        expires <= std::chrono::steady_clock::now()) {
        state_.erase(it);
        return nullptr;
    }
    return &it->second;
}

expected<void> memory_store::put_state(const std::string& key, std::string value,
                                       std::chrono::milliseconds ttl) {
    const auto now = std::chrono::steady_clock::now();
    if (state_.size() >= max_state_keys && !state_.contains(key)) {
        std::erase_if(state_, [now](const auto& entry) {
            const auto expires = entry.second.expires;
            return expires != std::chrono::steady_clock::time_point{} && expires <= now;
        });
        if (state_.size() >= max_state_keys) {
            return make_error("shared state is full (" + std::to_string(max_state_keys) + " keys)");
        }
    }
    state_[key] = state_entry{
        std::move(value), ttl.count() > 0 ? now + ttl : std::chrono::steady_clock::time_point{}};
    return {};
}

void memory_store::state_get(std::string key, value_callback done) {
    run([this, key = std::move(key), done = std::move(done)] {
        const auto* entry = find_state(key);
        done(entry != nullptr ? std::optional<std::string>(entry->value) : std::nullopt);
    });
}

void memory_store::state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                             std::function<void(expected<void>)> done) {
    run([this, key = std::move(key), value = std::move(value), ttl, done = std::move(done)] {
        auto result = put_state(key, value, ttl);
        if (done) {
            done(std::move(result));
        }
    });
}

void memory_store::state_erase(std::string key, flag_callback done) {
    run([this, key = std::move(key), done = std::move(done)] {
        const bool existed = find_state(key) != nullptr;
        state_.erase(key);
        if (done) {
            done(existed);
        }
    });
}

void memory_store::state_compare_and_set(std::string key, std::optional<std::string> expected,
                                         std::string value, std::chrono::milliseconds ttl,
                                         flag_callback done) {
    run([this, key = std::move(key), expected = std::move(expected), value = std::move(value), ttl,
         done = std::move(done)] {
        const auto* entry = find_state(key);
        const bool matches =
            expected ? entry != nullptr && entry->value == *expected : entry == nullptr;
        if (!matches) {
            return done(false);
        }
        auto stored = put_state(key, value, ttl);
        if (!stored) {
            return done(stored.get_error());
        }
        done(true);
    });
}

}  // namespace switchboard::presence
