// The Redis backplane: the bus contract (backplane.hpp) over a Redis pub/sub client, with this
// instance's own publications taken out of what Redis echoes back to its subscriptions.
#pragma once

#include "routing/backplane.hpp"
#include "routing/link/echo_filter.hpp"
#include "routing/redis/pubsub_client.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::routing::redis {

struct backplane_options {
    client_options client;
    // How long a publication waits for its echo once it went out: Redis answers within
    // milliseconds, so 10 s only bounds the bookkeeping of echoes lost with a connection.
    std::chrono::milliseconds echo_window{10'000};
};

struct backplane_statistics {
    client_statistics client;
    std::uint64_t echoes_filtered = 0;  // own publications Redis sent back
};

// Redis delivers a publication to every subscriber, the publisher included, and no command
// turns that off. Local recipients were already served (DESIGN.md decision 2), so each
// publication on a channel this instance subscribes to is remembered until its echo arrives
// and is dropped (link::echo_filter). Channel names go to Redis as they are: any bytes make a
// Redis channel, so the codec is the identity and is not called on the hot path.
//
// Threading: the client and all state live on `context` (the control shard); subscribe,
// unsubscribe and publish may be called from any shard and are dispatched there.
class redis_backplane final : public backplane {
public:
    // Throws std::invalid_argument for options the client cannot honour.
    redis_backplane(boost::asio::io_context& context, backplane_options options);
    // Test seam: any pub/sub client (a cluster, a fake).
    redis_backplane(boost::asio::io_context& context, std::unique_ptr<pubsub_client> client,
                    std::chrono::milliseconds echo_window);
    ~redis_backplane() override;

    void start(backplane_handler& handler) override;
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    // `then` runs on the control shard.
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    [[nodiscard]] bool connected() const override { return connected_; }
    [[nodiscard]] std::size_t buffered_bytes() const override { return client_->queued_bytes(); }
    [[nodiscard]] std::uint64_t reconnects() const override {
        return reconnects_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t dropped_publications() const override {
        return dropped_total_.load(std::memory_order_relaxed);
    }

    // On the context's thread: PUBLISH commands queued and not yet answered by Redis.
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override;
    [[nodiscard]] std::uint64_t refused_publications() const override;

    // On the context's thread.
    [[nodiscard]] backplane_statistics statistics() const;

private:
    using clock = link::echo_filter::clock;
    struct channel_state {
        int subscriptions = 0;
        link::echo_filter echoes;
    };
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    template <class F>
    void run(F f);
    void publish_here(const std::string& channel, shared_buffer payload);
    void on_message(std::string_view channel, const shared_buffer& payload);
    void on_state(bool connected);
    void count_drop();

    boost::asio::io_context& context_;
    std::unique_ptr<pubsub_client> client_;
    std::chrono::milliseconds echo_window_;
    backplane_handler* handler_ = nullptr;
    std::atomic<bool> connected_{false};
    bool was_up_ = false;  // connected at least once: the next connect is a reconnect
    std::atomic<std::uint64_t> reconnects_{0};
    std::unordered_map<std::string, channel_state, string_hash, std::equal_to<>> channels_;
    std::uint64_t echoes_filtered_ = 0;
    // PUBLISH commands the client queued (not dropped): the client's replies count against it.
    std::uint64_t accepted_ = 0;
    std::uint64_t drops_since_log_ = 0;
    // The client's statistics live on the control shard; /metrics reads this from any shard.
    std::atomic<std::uint64_t> dropped_total_{0};
    clock::time_point last_drop_log_{};
};

}  // namespace switchboard::routing::redis
