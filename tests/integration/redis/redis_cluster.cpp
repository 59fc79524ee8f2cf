#include "redis_cluster.hpp"

#include <chrono>
#include <iterator>
#include <sstream>
#include <thread>

namespace switchboard::testing {

namespace {

constexpr int slot_count = 16384;

// Polls at this pace: cluster nodes gossip every 100 ms, so tighter polling only takes CPU
// from the very processes being waited for (two cores).
constexpr auto poll_interval = std::chrono::milliseconds(10);
constexpr auto deadline_after = std::chrono::seconds(15);

template <class Condition>
bool poll_until(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + deadline_after;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(poll_interval);
    }
    return true;
}

}  // namespace

redis_cluster::redis_cluster(int masters) {
    for (int i = 0; i < masters; ++i) {
        bus_ports_.push_back(redis_server::free_port());
        // The cluster bus defaults to port + 10000, past 65535 for high ephemeral ports: it
        // gets a free port of its own. The announced address is fixed, so CLUSTER SLOTS
        // names every node by 127.0.0.1 from the start.
        nodes_.push_back(std::make_unique<redis_server>(std::vector<std::string>{
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
            std::to_string(bus_ports_.back()), "--cluster-announce-ip", "127.0.0.1",
            "--cluster-node-timeout", "5000"}));
    }
}

int redis_cluster::owner_of(std::uint16_t slot) const noexcept {
    return static_cast<int>(slot * nodes_.size() / slot_count);
}

std::string redis_cluster::id_of(int index) {
    return nodes_[index]->string_command({"CLUSTER", "MYID"});
}

bool redis_cluster::start() {
    for (auto& node : nodes_) {
        if (!node->start()) {
            return false;
        }
    }
    const int count = size();
    for (int i = 0; i < count; ++i) {
        const int first = i * slot_count / count;
        const int last = (i + 1) * slot_count / count - 1;
        // Distinct epochs, as redis-cli --cluster create sets them: no collision to resolve.
        if (node(i).string_command({"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)}) !=
                "OK" ||
            node(i).string_command({"CLUSTER", "ADDSLOTSRANGE", std::to_string(first),
                                    std::to_string(last)}) != "OK") {
            return false;
        }
    }
    for (int i = 1; i < count; ++i) {
        // The bus port too: MEET would otherwise assume port + 10000.
        if (node(0).string_command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(node(i).port()),
                                    std::to_string(bus_ports_[i])}) != "OK") {
            return false;
        }
    }
    const auto known = "cluster_known_nodes:" + std::to_string(count);
    return poll_until([&] {
        for (auto& n : nodes_) {
            const auto info = n->string_command({"CLUSTER", "INFO"});
            if (info.find("cluster_state:ok") == std::string::npos ||
                info.find(known) == std::string::npos) {
                return false;
            }
        }
        return true;
    });
}

bool redis_cluster::move_slot(std::uint16_t slot, int from, int to) {
    const auto target = id_of(to);
    const auto source = id_of(from);
    const auto number = std::to_string(slot);
    if (node(to).string_command({"CLUSTER", "SETSLOT", number, "IMPORTING", source}) != "OK" ||
        node(from).string_command({"CLUSTER", "SETSLOT", number, "MIGRATING", target}) != "OK") {
        return false;
    }
    // The target first: it takes the slot with a new epoch, which the others then accept.
    for (int i : {to, from}) {
        if (node(i).string_command({"CLUSTER", "SETSLOT", number, "NODE", target}) != "OK") {
            return false;
        }
    }
    for (int i = 0; i < size(); ++i) {
        if (i != to && i != from) {
            node(i).string_command({"CLUSTER", "SETSLOT", number, "NODE", target});
        }
    }
    return wait_until_agreed(slot, to);
}

bool redis_cluster::wait_until_agreed(std::uint16_t slot, int owner) {
    const auto owner_address = "127.0.0.1:" + std::to_string(node(owner).port()) + "@";
    return poll_until([&] {
        for (auto& n : nodes_) {
            if (claimant(*n, slot).rfind(owner_address, 0) != 0) {
                return false;
            }
        }
        return true;
    });
}

std::string redis_cluster::claimant(redis_server& viewer, std::uint16_t slot) {
    // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link>
    // <slot or first-last>..." per line; "[...]" entries are migrations, not ownership.
    std::istringstream lines(viewer.string_command({"CLUSTER", "NODES"}));
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::vector<std::string> field{std::istream_iterator<std::string>(fields), {}};
        for (std::size_t i = 8; i < field.size(); ++i) {
            if (field[i].empty() || field[i].front() == '[') {
                continue;
            }
            const auto dash = field[i].find('-');
            const int first = std::stoi(field[i].substr(0, dash));
            const int last =
                dash == std::string::npos ? first : std::stoi(field[i].substr(dash + 1));
            if (slot >= first && slot <= last) {
                return field[1];
            }
        }
    }
    return {};
}

}  // namespace switchboard::testing
