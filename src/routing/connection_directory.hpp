// Which shard of this instance holds a connection, readable from any shard.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::routing {

// Written at connect and disconnect, read when a send, group change or client result names a
// connection that is not on the calling shard. Answering on the spot (instead of asking every
// shard) lets such a send go to the bus at once, in call order with the caller's other sends.
// Thread safety: a striped lock per hub, held for one hash-map operation, never across I/O.
class connection_directory {
public:
    // Before the shards start.
    void add_hub() { hubs_.push_back(std::make_unique<stripes>()); }

    void add(std::size_t hub, const std::string& connection_id, std::size_t shard) {
        auto& s = stripe_for(hub, connection_id);
        std::lock_guard lock(s.mutex);
        s.shards[connection_id] = shard;
    }
    void remove(std::size_t hub, const std::string& connection_id) {
        auto& s = stripe_for(hub, connection_id);
        std::lock_guard lock(s.mutex);
        s.shards.erase(connection_id);
    }
    [[nodiscard]] std::optional<std::size_t> find(std::size_t hub,
                                                  const std::string& connection_id) const {
        auto& s = stripe_for(hub, connection_id);
        std::lock_guard lock(s.mutex);
        const auto it = s.shards.find(connection_id);
        return it == s.shards.end() ? std::nullopt : std::optional<std::size_t>(it->second);
    }

private:
    struct stripe {
        std::mutex mutex;
        std::unordered_map<std::string, std::size_t> shards;
    };
    // 16 stripes: contention between two connects or a connect and a lookup is rare at 16
    // even with one shard per core on large machines, and the table stays small.
    using stripes = std::array<stripe, 16>;

    stripe& stripe_for(std::size_t hub, const std::string& connection_id) const {
        return (*hubs_[hub])[std::hash<std::string>{}(connection_id) % std::tuple_size_v<stripes>];
    }

    std::vector<std::unique_ptr<stripes>> hubs_;
};

}  // namespace switchboard::routing
