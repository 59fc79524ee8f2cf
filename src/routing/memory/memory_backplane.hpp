// The in-memory bus: the embedded default for one instance, and the reference implementation
// of the backplane contract (several in-process instances may share one bus in tests).
#pragma once

#include "routing/backplane.hpp"
#include "routing/backplane_factory.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::routing {

class memory_backplane;

// The shared medium. Its lock guards the subscription table only; deliveries are posted.
class memory_bus {
public:
    void publish(const memory_backplane* from, const std::string& channel,
                 const shared_buffer& payload);
    void add(const std::string& channel, memory_backplane* member);
    void remove(const std::string& channel, memory_backplane* member);
    void remove_all(memory_backplane* member);
    // Started members: with fewer than two, nobody can receive a publication.
    void join() { ++members_; }
    void leave() { --members_; }
    [[nodiscard]] int members() const noexcept { return members_; }

private:
    std::atomic<int> members_{0};
    std::mutex mutex_;
    // Per channel, each subscribed member with its subscription count. A channel has one member
    // per instance in the process (usually one), so a vector beats a tree node per member.
    using subscriptions = std::vector<std::pair<memory_backplane*, int>>;
    std::unordered_map<std::string, subscriptions> subscribers_;
};

class memory_backplane final : public backplane {
public:
    // Deliveries to this instance run on `executor` (the backplane's shard).
    memory_backplane(std::shared_ptr<memory_bus> bus, boost::asio::any_io_executor executor);
    ~memory_backplane() override;

    void start(backplane_handler& handler) override;
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    [[nodiscard]] bool connected() const override { return true; }
    [[nodiscard]] bool shared() const override { return bus_->members() > 1; }

    // Called by the bus (under no lock): queues the delivery on this instance's executor.
    void deliver(const std::string& channel, const shared_buffer& payload);

private:
    std::shared_ptr<memory_bus> bus_;
    boost::asio::any_io_executor executor_;
    // Shared with posted deliveries so that a delivery after stop() finds no handler.
    // Invariant: start() and stop() run on executor_ (the backplane's shard), as deliveries do.
    std::shared_ptr<backplane_handler*> handler_;
    bool joined_ = false;
};

static_assert(std::derived_from<memory_backplane, backplane>);

// "memory": a private bus of one instance (no other instance can join it from outside the
// process). Always built: it is the default and needs nothing.
void register_memory_backplane(backplane_factory& factory);

}  // namespace switchboard::routing
