// Test fixture helper: a private Redis Cluster of a few masters (redis_server processes in
// cluster mode, each on free ports in its own temp dir), formed and checked without sleeps.
#pragma once

#include "redis_server.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::testing {

class redis_cluster {
public:
    explicit redis_cluster(int masters = 3);
    // Stops every process (the servers' destructors) and removes their directories.
    ~redis_cluster() = default;
    redis_cluster(const redis_cluster&) = delete;
    redis_cluster& operator=(const redis_cluster&) = delete;

    // Starts the servers, gives master i an equal share of the slots (CLUSTER ADDSLOTSRANGE,
    // distinct config epochs), joins them (CLUSTER MEET) and polls CLUSTER INFO until every
    // node reports cluster_state:ok and knows every other; false after a deadline.
    bool start();

    [[nodiscard]] int size() const noexcept { return static_cast<int>(nodes_.size()); }
    redis_server& node(int index) { return *nodes_[index]; }
    // Which master owns the slot, as assigned by start().
    [[nodiscard]] int owner_of(std::uint16_t slot) const noexcept;
    // The node's cluster id (CLUSTER MYID).
    std::string id_of(int index);
    // Moves an empty slot to another master the way redis-cli --cluster reshard does
    // (IMPORTING on the target, then SETSLOT NODE on target, source and the others), and
    // waits until every node agrees; false after a deadline.
    bool move_slot(std::uint16_t slot, int from, int to);

private:
    bool wait_until_agreed(std::uint16_t slot, int owner);
    // "ip:port@bus" of the node the viewer believes owns the slot; empty if none.
    static std::string claimant(redis_server& viewer, std::uint16_t slot);

    std::vector<std::unique_ptr<redis_server>> nodes_;
    std::vector<std::uint16_t> bus_ports_;
};

}  // namespace switchboard::testing
