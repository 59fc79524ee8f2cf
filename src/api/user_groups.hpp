// User-group memberships made through the REST API (PUT /users/{user}/groups/{group}), with
// their TTL: they apply to the user's connections now and to those the user opens later.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::api {

// One per instance, fed by this instance's REST calls and by the other instances' (over the
// bus). Thread safety: a mutex held for one map operation, never across I/O; every shard reads
// it when a connection of a user arrives.
class user_group_store {
public:
    using clock = std::chrono::steady_clock;

    // The service keeps the latest 100 groups a user joined without TTL.
    static constexpr std::size_t max_lasting_groups_per_user = 100;

    // `max_entries` bounds the whole store: past it, new memberships are refused.
    explicit user_group_store(std::size_t max_entries = 1'000'000) : max_entries_(max_entries) {}

    // `ttl` empty: the service's "at most a year" membership. False when the store is full.
    bool add(std::size_t hub, std::string_view user, std::string_view group,
             std::optional<std::chrono::seconds> ttl, clock::time_point now);
    void remove(std::size_t hub, std::string_view user, std::string_view group);
    void remove_all(std::size_t hub, std::string_view user);
    [[nodiscard]] bool contains(std::size_t hub, std::string_view user, std::string_view group,
                                clock::time_point now) const;
    // The groups `user` is in now (for a connection that just arrived).
    [[nodiscard]] std::vector<std::string> groups_of(std::size_t hub, std::string_view user,
                                                     clock::time_point now) const;
    struct expired {
        std::size_t hub;
        std::string user;
        std::string group;
    };
    // Drops expired memberships (about once a second) and returns them: their connections
    // leave the group then.
    std::vector<expired> sweep(clock::time_point now);
    [[nodiscard]] std::size_t size() const;

    // Every membership in force, for an instance that starts later (it asks the others).
    struct entry {
        std::size_t hub;
        std::string user;
        std::string group;
        std::optional<std::chrono::seconds> ttl;  // left; empty: joined without ttl
    };
    [[nodiscard]] std::vector<entry> snapshot(clock::time_point now) const;

private:
    struct membership {
        std::string group;
        clock::time_point expires;
        bool lasting = false;  // joined without ttl
    };
    static std::string key_of(std::size_t hub, std::string_view user);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::vector<membership>> users_;
    std::size_t entries_ = 0;
    std::size_t max_entries_;
};

}  // namespace switchboard::api
