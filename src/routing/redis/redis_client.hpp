// A Redis pub/sub client on one io_context: pipelined PUBLISH, reference-counted SUBSCRIBE,
// over two link::reconnecting_link (reconnect with jittered backoff, optional TLS). The
// transport under the Redis backplane, and one cluster node's connection pair under
// cluster_client.
#pragma once

#include "core/shared_buffer.hpp"
#include "routing/redis/connection_string.hpp"
#include "routing/redis/pubsub_client.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis

namespace switchboard::routing::redis {

struct client_options {
    connection_options connection;
    // Bytes of encoded commands that may wait for the socket (or for Redis to come back).
    // 16 MiB holds about a second of a busy instance's fan-out yet stays small next to the
    // per-connection budgets; beyond it publishes are dropped and counted, never queued.
    std::size_t max_queued_bytes = 16 * 1024 * 1024;
    // Reconnect delays: quick first retry for a restart or failover, capped so a long outage
    // costs one attempt per 5 s per connection rather than a busy loop; jittered between
    // them (link/backoff.hpp) so that a fleet does not retry in lockstep.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
    // From starting to resolve until AUTH/SELECT answered; a blackholed host otherwise waits
    // out the kernel's SYN retries (minutes).
    std::chrono::milliseconds connect_timeout{5000};
    // After a reconnect, publications wait this long before going out, plus the spread of the
    // jittered retry delays (the other instances come back within it): 500 ms lets the others
    // resubscribe first, so what was buffered reaches them.
    std::chrono::milliseconds resume_delay{500};
    // A PING on the publish connection this often; no answer for two intervals drops the
    // connection. TCP keepalive finds a vanished host; this finds a Redis that still accepts
    // bytes but stopped answering (hung, paused, blackholed proxy). 0 turns it off.
    std::chrono::milliseconds health_check_interval{5000};
};

// Two connections to one Redis: a publish connection and a subscribe connection (RESP2 puts a
// subscribed connection in a mode where other commands are refused).
// Threading: every member must be called on the io_context given at construction; the handlers
// are invoked there too. No locks: the backplane posts to this shard.
// Delivery: at most once. Publishes made while disconnected wait (bounded) and are sent, in
// order, once both connections are back, so the client's own subscriptions are in place
// first. Commands in flight when a connection breaks are lost.
// TLS (connection.tls): each attempt connects, then handshakes with SNI and verifies the
// server's certificate chain and name (see connection_options); the plain path is unchanged.
// Sharded mode (connection.sharded): SPUBLISH/SSUBSCRIBE/SUNSUBSCRIBE against one node, for
// cluster_client, which routes channels to their nodes and hears about moved slots through
// the topology handler.
class redis_client final : public pubsub_client {
public:
    // Throws std::invalid_argument for options it cannot honour (no host, unreadable TLS
    // files): configuration errors surface at startup, not on the data path.
    redis_client(boost::asio::io_context& context, client_options options);
    // Stops: closes the sockets; no handler is called afterwards.
    ~redis_client() override;
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    // Set before start(). Channels are full Redis channel names: the client does not apply
    // connection.channel_prefix, the backplane's channel naming does, so the handler sees
    // the same string that was given to subscribe().
    void set_message_handler(message_handler handler) override;
    void set_state_handler(state_handler handler) override;

    // Connects both connections; failures are retried forever with backoff.
    void start() override;
    // Closes both connections and drops queued publishes; no handler runs afterwards.
    void stop() override;

    // Queues PUBLISH channel payload; never blocks, never throws. Returns false when the
    // payload was dropped because max_queued_bytes would be exceeded.
    bool publish(std::string_view channel, shared_buffer payload) override;
    // Reference-counted per channel: SUBSCRIBE on the first, UNSUBSCRIBE on the last.
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    // A PING on the subscribe connection: Redis answers in order, so its reply follows the
    // confirmation of every (UN)SUBSCRIBE sent before it, whatever the channel.
    void when_subscribed(const std::string& channel, std::function<void()> then) override;

    // True when both connections are authenticated and every subscription is confirmed.
    [[nodiscard]] bool connected() const noexcept override;
    [[nodiscard]] client_statistics statistics() const noexcept override;
    // Encoded publishes waiting (not yet handed to the socket); at most max_queued_bytes.
    [[nodiscard]] std::size_t queued_bytes() const noexcept override;

    // Queues a command on the publish connection, in order with publishes (so sent once
    // connected()), and hands its reply to the handler. False when the queue is full.
    bool command(const std::vector<std::string>& arguments, reply_handler handler);
    // One server serves every key.
    bool command(std::string_view key, const std::vector<std::string>& arguments,
                 reply_handler handler) override;
    // Sharded mode: called with the reason when the node answers -MOVED, -ASK or
    // -CLUSTERDOWN, or drops a subscribed channel on its own (its slot moved away).
    using topology_handler = std::function<void(std::string_view reason)>;
    void set_topology_handler(topology_handler handler);

private:
    class impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace switchboard::routing::redis
