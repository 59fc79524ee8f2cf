// The NATS backplane: the bus contract (backplane.hpp) over one cnats connection, with logical
// channel names spelled as NATS subjects by token_channel_codec.
#pragma once

#include "routing/backplane.hpp"
#include "routing/nats/connection_string.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace switchboard::routing::nats {

struct backplane_options {
    connection_options connection;
    // Publications held while the server is unreachable (and cnats' reconnect buffer, which
    // takes those made before the disconnect is noticed); beyond it they are dropped and
    // counted. 8 MiB: cnats' own default, used when --backplane-buffer-size gives 0.
    std::size_t max_buffered_bytes = 8 * 1024 * 1024;
    // Between reconnect rounds: 2 s, the NATS clients' default, plus up to `reconnect_jitter`
    // (100 ms, cnats' default; 1 s over TLS, whose handshake costs the servers more) so that
    // a fleet restarted together does not reconnect in lockstep.
    std::chrono::milliseconds reconnect_wait{2000};
    std::chrono::milliseconds reconnect_jitter{100};
    std::chrono::milliseconds reconnect_jitter_tls{1000};
    // After a reconnect, publications held during the outage wait one retry period and its
    // jitter (when the other instances are back too) plus this: 500 ms for their
    // resubscriptions and, in a cluster whose nodes all restarted, the routes.
    std::chrono::milliseconds resume_margin{500};
    // One connect attempt to one server: 2 s, cnats' default.
    std::chrono::milliseconds connect_timeout{2000};
    // How long when_subscribed waits for the server's PONG before running `then` anyway (the
    // server is then likely gone, and the contract runs it at once while the bus is down).
    std::chrono::milliseconds flush_timeout{5000};
    // Per subscription, in cnats, before delivery: 65536 messages / 64 MiB, cnats' defaults
    // made explicit; beyond them cnats drops (a slow consumer) rather than grow.
    int pending_messages_limit = 65536;
    int pending_bytes_limit = 64 * 1024 * 1024;
    // Posted to the control shard and not yet handled: the bound on what a stalled shard lets
    // pile up in its queue (the cnats limits stop at the hand-off). Same sizes as above.
    std::size_t max_in_flight_messages = 65536;
    std::size_t max_in_flight_bytes = 64 * 1024 * 1024;
};

struct backplane_statistics {
    std::uint64_t dropped_publications = 0;  // everything publish() dropped, the next two included
    std::uint64_t oversized_publications = 0;  // larger than the server's max_payload
    std::uint64_t undecodable_subjects = 0;    // arrived on a subject the codec does not make
    std::uint64_t dropped_deliveries = 0;      // arrived while max_in_flight_* was reached
    std::uint64_t reconnects = 0;              // to the same or another server of the cluster
};

// NATS never sends a connection its own publications with no_echo set, so one connection
// publishes and subscribes and no echo filter is needed. cnats owns connect, reconnect (for
// ever, jittered) and resubscription; publications made while the bus is down wait in a
// bounded buffer of the backplane and go out once the other instances are likely back
// (backplane_options::resume_margin), as the Redis backplane holds its own.
//
// Threading: subscribe, unsubscribe, publish and when_subscribed run on `context` (the control
// shard), dispatched there from other shards. Messages arrive on cnats' global delivery pool
// (one thread for every subscription, instead of a thread per subscription, which a channel per
// connection and user would multiply) and are posted to `context`, never handled there. A helper
// thread of this backplane connects (so start() never blocks on DNS or a slow handshake) and
// runs the flushes when_subscribed waits on. What callbacks and posted jobs touch lives in a
// shared state that outlives them, and nothing is posted once stop() began.
class nats_backplane final : public backplane {
public:
    nats_backplane(boost::asio::io_context& context, backplane_options options);
    ~nats_backplane() override;
    nats_backplane(const nats_backplane&) = delete;
    nats_backplane& operator=(const nats_backplane&) = delete;

    void start(backplane_handler& handler) override;
    // On the control shard or after its threads stopped; joins the helper thread and closes the
    // connection (it waits at most one connect or flush timeout).
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    // `then` runs on the control shard once a PING sent after the SUB came back.
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    [[nodiscard]] const channel_codec& codec() const noexcept override;
    [[nodiscard]] bool connected() const override;
    [[nodiscard]] std::uint64_t dropped_publications() const override;
    [[nodiscard]] std::uint64_t rejected_messages() const override;
    [[nodiscard]] std::uint64_t reconnects() const override;
    [[nodiscard]] std::size_t buffered_bytes() const override;

    // Any thread.
    [[nodiscard]] backplane_statistics statistics() const;

    class state;

private:
    template <class F>
    void run(F f);

    boost::asio::io_context& context_;
    std::shared_ptr<state> state_;
};

}  // namespace switchboard::routing::nats
