// Reconnect delays with decorrelated jitter, so that instances which lost the same server do
// not come back in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace switchboard::routing::link {

// Each delay is drawn uniformly from [initial, 3 x the previous delay], capped at `max`
// ("decorrelated jitter", AWS Architecture Blog, "Exponential Backoff And Jitter"): it grows
// about 1.5x per failure on average, never drops below `initial` (a restart or failover is
// retried quickly) and spreads a fleet's retries over the whole range instead of one instant.
// Thread safety: none; one per connection, on its shard.
class backoff {
public:
    using duration = std::chrono::milliseconds;

    // `max` below `initial` is raised to it.
    backoff(duration initial, duration max, std::uint64_t seed = process_seed());

    // The delay before the next attempt.
    [[nodiscard]] duration next();
    // After a success: the next failure starts again from `initial`.
    void reset() noexcept;
    // No delay handed out since the last reset: the coming failure is the first of a series.
    [[nodiscard]] bool fresh() const noexcept { return fresh_; }

    // The width of the range the last delay was drawn from, kept across reset(): how far
    // apart instances that failed together may come back. 0 before the first failure.
    [[nodiscard]] duration spread() const noexcept { return spread_; }

    [[nodiscard]] duration initial() const noexcept { return initial_; }
    [[nodiscard]] duration max() const noexcept { return max_; }

    // Random per process and different on every call: two connections of one process, or
    // two processes started together, draw different delays.
    [[nodiscard]] static std::uint64_t process_seed();

private:
    duration initial_;
    duration max_;
    duration previous_;
    duration spread_{0};
    bool fresh_ = true;
    std::mt19937_64 random_;
};

}  // namespace switchboard::routing::link
