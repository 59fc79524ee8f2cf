// Token buckets: a sustained rate with a burst allowance, for message and request rate limits.
#pragma once

#include <algorithm>
#include <chrono>

namespace switchboard {

// A rate shared by many buckets (one per connection or client address); 0 means unlimited.
struct rate_limit {
    double per_second = 0;
    double burst = 0;

    [[nodiscard]] bool unlimited() const noexcept { return per_second <= 0; }
};

// The state of one bucket: 16 bytes, so one per connection costs next to nothing. Not
// thread-safe: each bucket belongs to one shard or is guarded by its owner.
class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    // A new bucket starts full: a fresh client may use its whole burst at once.
    token_bucket() = default;
    explicit token_bucket(const rate_limit& limit, clock::time_point now)
        : tokens_(capacity(limit)), refilled_at_(now) {}

    // Takes one token; false (and nothing taken) when the bucket is empty.
    bool try_take(const rate_limit& limit, clock::time_point now) noexcept {
        if (limit.unlimited()) {
            return true;
        }
        refill(limit, now);
        if (tokens_ < 1.0) {
            return false;
        }
        tokens_ -= 1.0;
        return true;
    }

    // Full again by `now`: forgetting the bucket changes nothing for its client.
    [[nodiscard]] bool full(const rate_limit& limit, clock::time_point now) const noexcept {
        const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
        return tokens_ + elapsed * limit.per_second >= capacity(limit);
    }

private:
    // A burst below one would refuse everything: at least one request always fits.
    static double capacity(const rate_limit& limit) noexcept { return std::max(1.0, limit.burst); }

    void refill(const rate_limit& limit, clock::time_point now) noexcept {
        if (now <= refilled_at_) {
            return;  // clocks of different threads may be read out of order
        }
        const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
        tokens_ = std::min(capacity(limit), tokens_ + elapsed * limit.per_second);
        refilled_at_ = now;
    }

    double tokens_ = 0;
    clock::time_point refilled_at_{};
};

}  // namespace switchboard
