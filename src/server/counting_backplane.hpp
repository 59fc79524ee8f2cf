// A backplane that counts what passes through it (publications out, messages in) for /metrics,
// around whichever bus the factory built; everything else is the inner bus's.
#pragma once

#include "routing/backplane.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace switchboard {

class counting_backplane final : public routing::backplane, routing::backplane_handler {
public:
    explicit counting_backplane(std::unique_ptr<routing::backplane> inner)
        : inner_(std::move(inner)) {}

    void start(routing::backplane_handler& handler) override {
        handler_ = &handler;
        inner_->start(*this);
    }
    void stop() override { inner_->stop(); }
    void subscribe(const std::string& channel) override { inner_->subscribe(channel); }
    void unsubscribe(const std::string& channel) override { inner_->unsubscribe(channel); }
    void publish(const std::string& channel, shared_buffer payload) override {
        published_.fetch_add(1, std::memory_order_relaxed);
        inner_->publish(channel, std::move(payload));
    }
    void when_subscribed(const std::string& channel, std::function<void()> then) override {
        inner_->when_subscribed(channel, std::move(then));
    }
    [[nodiscard]] const routing::channel_codec& codec() const noexcept override {
        return inner_->codec();
    }
    [[nodiscard]] bool connected() const override { return inner_->connected(); }
    [[nodiscard]] bool shared() const override { return inner_->shared(); }
    [[nodiscard]] std::uint64_t dropped_publications() const override {
        return inner_->dropped_publications();
    }
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override {
        return inner_->unconfirmed_publications();
    }
    [[nodiscard]] std::uint64_t refused_publications() const override {
        return inner_->refused_publications();
    }
    [[nodiscard]] std::uint64_t rejected_messages() const override {
        return inner_->rejected_messages();
    }
    [[nodiscard]] std::uint64_t reconnects() const override { return inner_->reconnects(); }
    [[nodiscard]] std::size_t buffered_bytes() const override { return inner_->buffered_bytes(); }

    // Since start; any thread.
    [[nodiscard]] std::uint64_t published() const noexcept {
        return published_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t received() const noexcept {
        return received_.load(std::memory_order_relaxed);
    }

private:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        received_.fetch_add(1, std::memory_order_relaxed);
        handler_->on_backplane_message(channel, payload);
    }

    std::unique_ptr<routing::backplane> inner_;
    routing::backplane_handler* handler_ = nullptr;
    // Relaxed: counts for a metric, ordered with nothing else.
    std::atomic<std::uint64_t> published_{0};
    std::atomic<std::uint64_t> received_{0};
};

}  // namespace switchboard
