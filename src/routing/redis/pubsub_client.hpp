// What the Redis backplane and stores need of a Redis connection: publish, reference-counted
// subscribe, commands routed by key, and a connected flag. One server (redis_client) and a
// cluster in sharded mode (cluster_client) implement it.
#pragma once

#include "core/shared_buffer.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis

namespace switchboard::routing::redis {

struct client_statistics {
    std::uint64_t published = 0;     // PUBLISH commands handed to the socket
    std::uint64_t acknowledged = 0;  // PUBLISH commands Redis answered (receiver count)
    std::uint64_t dropped = 0;       // publishes refused because the queue was full
    std::uint64_t dropped_bytes = 0;
    std::uint64_t received = 0;       // messages delivered to the message handler
    std::uint64_t reconnects = 0;     // connection attempts after a failure
    std::uint64_t error_replies = 0;  // "-ERR ..." replies to PUBLISH
};

// Threading: every member is called on the io_context the client was built on; the handlers
// run there too. Delivery is at most once.
class pubsub_client {
public:
    using message_handler = std::function<void(std::string_view channel, shared_buffer payload)>;
    using state_handler = std::function<void(bool connected)>;
    // A reply, or nullptr when the connection broke before it came (the handler is dropped,
    // not called, by stop()).
    using reply_handler = std::function<void(const redisReply* reply)>;

    virtual ~pubsub_client() = default;

    // Set before start(). Channels are full Redis channel names (prefix included).
    virtual void set_message_handler(message_handler handler) = 0;
    virtual void set_state_handler(state_handler handler) = 0;

    // Connects; failures are retried forever with backoff.
    virtual void start() = 0;
    // Closes every connection and drops queued publishes; no handler runs afterwards.
    virtual void stop() = 0;

    // Queues a publish; never blocks, never throws. False when it was dropped because the
    // bounded queue is full.
    virtual bool publish(std::string_view channel, shared_buffer payload) = 0;
    // Reference-counted per channel: subscribed on the first, unsubscribed on the last.
    virtual void subscribe(const std::string& channel) = 0;
    virtual void unsubscribe(const std::string& channel) = 0;
    // Runs `then` once the subscriptions to `channel` asked for so far are in effect (Redis
    // confirmed them), or at once while disconnected: the reconnect resubscribes anyway.
    virtual void when_subscribed(const std::string& channel, std::function<void()> then) = 0;
    // Queues a command on the connection serving `key` (on a cluster, its slot's master: every
    // key the command touches must hash to that slot), in order with what else goes there.
    // False when the bounded queue is full; the handler then never runs.
    virtual bool command(std::string_view key, const std::vector<std::string>& arguments,
                         reply_handler handler) = 0;

    // True when publishes go out at once and every subscription is confirmed.
    [[nodiscard]] virtual bool connected() const noexcept = 0;
    [[nodiscard]] virtual client_statistics statistics() const noexcept = 0;
    // Encoded publishes waiting for a socket.
    [[nodiscard]] virtual std::size_t queued_bytes() const noexcept = 0;
};

}  // namespace switchboard::routing::redis
