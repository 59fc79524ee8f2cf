// What the NATS backplane tests share: a backplane on its own control thread with a recording
// handler, and polling against a deadline.
#pragma once

#include "../../unit/routing/backplane_conformance.hpp"
#include "routing/nats/nats_backplane.hpp"

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace switchboard::testing {

using namespace std::chrono_literals;

using routing::conformance::eventually;

struct delivery {
    std::string channel;
    std::string payload;
};

// Records deliveries; written on the control thread, read by the test.
class recording_handler final : public routing::backplane_handler {
public:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        std::lock_guard lock(mutex_);
        received_.push_back({std::string(channel), *payload});
    }
    std::vector<delivery> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }
    bool has(const std::string& payload) const {
        std::lock_guard lock(mutex_);
        for (const auto& d : received_) {
            if (d.payload == payload) {
                return true;
            }
        }
        return false;
    }
    bool has_prefix(const std::string& prefix) const {
        std::lock_guard lock(mutex_);
        for (const auto& d : received_) {
            if (d.payload.starts_with(prefix)) {
                return true;
            }
        }
        return false;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return received_.size();
    }

private:
    mutable std::mutex mutex_;
    std::vector<delivery> received_;
};

// One "server instance": a control io_context on its own thread and a NATS backplane on it.
class bus_endpoint {
public:
    explicit bus_endpoint(const std::string& urls, std::chrono::milliseconds reconnect_wait = 100ms,
                          std::size_t buffer = 8 * 1024 * 1024) {
        routing::nats::backplane_options options;
        options.connection = routing::nats::parse_connection_string(urls);
        options.reconnect_wait = reconnect_wait;
        options.reconnect_jitter = 10ms;
        options.max_buffered_bytes = buffer;
        bus_ = std::make_unique<routing::nats::nats_backplane>(context_, std::move(options));
        thread_ = std::thread([this] { context_.run(); });
        bus_->start(handler_);
    }
    ~bus_endpoint() {
        // The contract: stop() on the control shard or after its threads stopped.
        work_.reset();
        context_.stop();
        thread_.join();
        bus_->stop();
    }

    routing::nats::nats_backplane& bus() { return *bus_; }
    recording_handler& handler() { return handler_; }

    // Subscribes and waits until the server has the subscription.
    bool subscribe(const std::string& channel) {
        bus_->subscribe(channel);
        auto done = std::make_shared<std::atomic<bool>>(false);
        bus_->when_subscribed(channel, [done] { *done = true; });
        return eventually([&] { return done->load(); });
    }
    void publish(const std::string& channel, const std::string& payload) {
        bus_->publish(channel, make_shared_buffer(payload));
    }

private:
    boost::asio::io_context context_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        context_.get_executor()};
    recording_handler handler_;
    std::unique_ptr<routing::nats::nats_backplane> bus_;
    std::thread thread_;
};

}  // namespace switchboard::testing
