// Redis Cluster with sharded pub/sub (Redis 7: SPUBLISH/SSUBSCRIBE): each channel is published
// and subscribed on the master owning its hash slot. The backplane's client when the
// connection string says shardedPubSub=true.
#pragma once

#include "routing/redis/pubsub_client.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::redis {

inline constexpr std::uint16_t cluster_slot_count = 16384;

// The hash slot of a key (here a channel name) as Redis Cluster computes it: CRC16 (XMODEM)
// of the key, or of the part between its first '{' and the next '}' when that part is not
// empty (a hash tag), modulo 16384.
[[nodiscard]] std::uint16_t key_slot(std::string_view key) noexcept;

// One redis_client (a publish and a subscribe connection) per master, in sharded mode.
// Discovery: CLUSTER SLOTS through any connected node (the seeds from the connection string
// when none is), when a node (re)connects and when a node answers -MOVED/-ASK/-CLUSTERDOWN or
// drops a channel whose slot moved; at most one discovery at a time and one per 100 ms.
// After each, channels whose slot changed owner are unsubscribed from the old node and
// subscribed on the new one, and masters that own no slot any more are closed.
// connected(): every slot has a master and every master's connections are up.
// Delivery: at most once, as redis_client; publishes answered -MOVED during a resharding are
// lost, and commands get the -MOVED/-ASK/-TRYAGAIN reply (their callers decide; it also
// starts a discovery). Commands, like publishes, to a slot with no known master yet wait. Publishes
// to a slot with no known master yet (before the first discovery) wait, bounded by
// max_queued_bytes; each node's client has the same bound of its own. Against a Redis that is not a
// cluster, the seed serves every slot: sharded pub/sub works on a single Redis 7 as well.
// Threading: as pubsub_client; the node clients live on the same io_context.
class cluster_client final : public pubsub_client {
public:
    // Throws std::invalid_argument for options it cannot honour (as redis_client does).
    cluster_client(boost::asio::io_context& context, client_options options);
    ~cluster_client() override;
    cluster_client(const cluster_client&) = delete;
    cluster_client& operator=(const cluster_client&) = delete;

    void set_message_handler(message_handler handler) override;
    void set_state_handler(state_handler handler) override;
    void start() override;
    void stop() override;
    bool publish(std::string_view channel, shared_buffer payload) override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    // Asks the master owning the channel's slot; at once when none is known yet.
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    bool command(std::string_view key, const std::vector<std::string>& arguments,
                 reply_handler handler) override;
    [[nodiscard]] bool connected() const noexcept override;
    // Summed over the node clients, including those closed since.
    [[nodiscard]] client_statistics statistics() const noexcept override;
    [[nodiscard]] std::size_t queued_bytes() const noexcept override;

    // Masters known from the last discovery (diagnostics and tests).
    [[nodiscard]] std::size_t master_count() const noexcept;
    // Completed discoveries (diagnostics and tests).
    [[nodiscard]] std::uint64_t discoveries() const noexcept;

private:
    class impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace switchboard::routing::redis
