// Test helpers for code that runs on shard threads: run a function on a shard and wait for it
// with a deadline, or wait until every shard has handled what was posted to it so far.
#pragma once

#include "core/shard_pool.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <utility>

namespace switchboard::test {

inline constexpr std::chrono::seconds shard_deadline{5};

// Runs `f` on `shard` and waits for it; false if it did not complete before the deadline.
// Whatever `f` wrote is visible to the caller once this returns true (the future synchronizes).
template <class F>
[[nodiscard]] bool run_on(shard_pool& pool, std::size_t shard, F f) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    boost::asio::post(pool.context(shard), [done, f = std::move(f)]() mutable {
        f();
        done->set_value();
    });
    return finished.wait_for(shard_deadline) == std::future_status::ready;
}

// Waits until every shard has run the handlers posted to it before this call. Shards run their
// posted handlers in order, so work that shard A posted to shard B before A finished
// `run_on(A, ...)` completes before this returns. Two rounds: run_on() returns while its
// handler is still finishing, and Asio queues what a handler posts to its own shard only once
// the handler returned, so a first round can overtake it; the second cannot.
[[nodiscard]] inline bool drain(shard_pool& pool) {
    for (int round = 0; round < 2; ++round) {
        for (std::size_t shard = 0; shard < pool.size(); ++shard) {
            if (!run_on(pool, shard, [] {})) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace switchboard::test
