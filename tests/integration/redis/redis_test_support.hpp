// What the Redis client tests share: running the io_context until a condition holds, and
// collecting delivered messages.
#pragma once

#include "core/shared_buffer.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::testing {

struct received_message {
    std::string channel;
    std::string payload;
};

class redis_test : public ::testing::Test {
protected:
    // Runs the io_context until the condition holds or the deadline passes (no fixed sleeps).
    bool run_until(const std::function<bool()>& condition,
                   std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!condition()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            context_.run_one_for(std::chrono::milliseconds(10));
            if (context_.stopped()) {
                context_.restart();
            }
        }
        return true;
    }

    // Runs for a fixed time: only to show that something does NOT happen.
    void run_for(std::chrono::milliseconds duration) {
        run_until([] { return false; }, duration);
    }

    static std::function<void(std::string_view, shared_buffer)> collect(
        std::vector<received_message>& into) {
        return [&into](std::string_view channel, shared_buffer payload) {
            into.push_back({std::string(channel), *payload});
        };
    }

    boost::asio::io_context context_;
};

}  // namespace switchboard::testing
