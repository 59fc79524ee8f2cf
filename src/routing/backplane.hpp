// The scale-out bus between server instances: channel pub/sub, reference-counted
// subscriptions per instance. Implementations never include hub headers.
#pragma once

#include "core/shared_buffer.hpp"
#include "routing/channel_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::routing {

// Receives what other instances published. Called on the backplane's own shard; it must not
// block (the bus reader never waits for slow clients) and must post work to other shards.
class backplane_handler {
public:
    virtual ~backplane_handler() = default;
    virtual void on_backplane_message(std::string_view channel, const shared_buffer& payload) = 0;
};

// Contract: publish is fire-and-forget and at-most-once; messages from one publisher on one
// channel arrive in publish order; an instance never receives its own publications.
// Channel names: every `channel` in and out of this interface is a logical name, the ASP.NET
// scale-out name the router builds (any bytes, any length). A bus whose names are limited
// (PostgreSQL identifiers, NATS subjects) translates with its codec() at its own edge, both
// ways, so the router, the other buses and the handler never see a bus spelling.
// Thread safety: every method may be called from any shard.
class backplane {
public:
    virtual ~backplane() = default;
    virtual void start(backplane_handler& handler) = 0;
    virtual void stop() = 0;
    // Reference-counted: the channel is subscribed while at least one subscribe is unmatched.
    virtual void subscribe(const std::string& channel) = 0;
    virtual void unsubscribe(const std::string& channel) = 0;
    virtual void publish(const std::string& channel, shared_buffer payload) = 0;
    // Runs `then` once the subscriptions to `channel` made so far are in effect on the bus (a
    // member joining a group hears the next message sent to it from anywhere), or at once while
    // the bus is down. Any shard calls; `then` may run on any shard. The default suits a bus
    // whose subscribe() takes effect before it returns.
    virtual void when_subscribed(const std::string& channel, std::function<void()> then) {
        (void)channel;
        then();
    }
    // How this bus spells logical names on the wire (channel_codec.hpp for the contract); the
    // default suits a bus that takes any bytes as a channel name. Any thread.
    [[nodiscard]] virtual const channel_codec& codec() const noexcept {
        static const identity_channel_codec identity;
        return identity;
    }
    // False while the bus is unreachable; /readyz reports it.
    [[nodiscard]] virtual bool connected() const = 0;
    // False when no other instance can be listening (a private in-memory bus): the router then
    // skips serializing for the bus. Any shard.
    [[nodiscard]] virtual bool shared() const { return true; }
    // Publications dropped since start because the bus was unreachable and its buffer full
    // (a metric). Any thread.
    [[nodiscard]] virtual std::uint64_t dropped_publications() const { return 0; }
    // Publications accepted by publish() that the bus's server has neither confirmed nor
    // refused yet: what a process that publishes and then exits waits for (the publisher's
    // flush). Lost ones (a connection broke with them in flight) stay unconfirmed, so a flush
    // with a deadline reports them instead of exiting as if delivered. A bus whose server
    // confirms nothing reports 0. On the control shard.
    [[nodiscard]] virtual std::uint64_t unconfirmed_publications() const { return 0; }
    // Publications the bus's server refused (an error reply) since start. On the control shard.
    [[nodiscard]] virtual std::uint64_t refused_publications() const { return 0; }
    // Messages the bus received and could not hand on since start: not in its format, a
    // payload it could not fetch, no room for them (a metric; the router counts the ones it
    // cannot decode). Any thread.
    [[nodiscard]] virtual std::uint64_t rejected_messages() const { return 0; }
    // Times the bus came back after it had been connected, since start (a metric). Any thread.
    [[nodiscard]] virtual std::uint64_t reconnects() const { return 0; }
    // Bytes of publications waiting for the bus (its outage buffer and unsent writes). On the
    // control shard.
    [[nodiscard]] virtual std::size_t buffered_bytes() const { return 0; }
};

}  // namespace switchboard::routing
