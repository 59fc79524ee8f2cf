// Admission of new connections, shared by every endpoint: connection counts (total, per client
// address, per user) and the negotiate rate per client address.
#pragma once

#include "core/metrics.hpp"
#include "core/token_bucket.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::transport {

// 0 (or an unlimited rate): no limit.
struct admission_options {
    std::size_t max_connections = 0;
    std::size_t max_connections_per_ip = 0;
    std::size_t max_connections_per_user = 0;
    rate_limit negotiate_rate_per_ip;
};

class admission_control;

// One connection's place in the counts, from negotiate until its token expires unused or the
// connection ends: the token table holds it, so dropping the entry releases the place.
class connection_lease {
public:
    connection_lease() = default;
    connection_lease(connection_lease&& other) noexcept { *this = std::move(other); }
    connection_lease& operator=(connection_lease&& other) noexcept;
    connection_lease(const connection_lease&) = delete;
    connection_lease& operator=(const connection_lease&) = delete;
    ~connection_lease() { release(); }

    [[nodiscard]] bool held() const noexcept { return owner_ != nullptr; }
    void release() noexcept;

private:
    friend class admission_control;
    admission_control* owner_ = nullptr;
    // Empty when that count is not kept (no limit, anonymous user, unknown address).
    std::string address_;
    std::string user_;
};

enum class refusal : std::uint8_t {
    none,
    connections,
    connections_per_ip,
    connections_per_user,
    negotiate_rate_per_ip,
};

struct admission_result {
    refusal refused = refusal::none;
    connection_lease lease;  // held when admitted
};

// Thread safety: any shard calls any member. Counts sit in striped, mutex-guarded maps: they
// change at negotiate, connect and disconnect only (never per message), and a lock is held for
// one map operation, never across I/O or a callback.
class admission_control {
public:
    using clock = std::chrono::steady_clock;

    explicit admission_control(admission_options options, metrics* counters = nullptr);
    admission_control(const admission_control&) = delete;
    admission_control& operator=(const admission_control&) = delete;

    // A negotiate (or a WebSocket connecting without one) from `address` for `user` (empty:
    // anonymous): spends a token of the address's negotiate rate, then takes a place in each
    // count, or none when a limit refuses.
    admission_result admit(std::string_view address, std::string_view user,
                           clock::time_point now = clock::now());
    // Forgets negotiate buckets that have filled up again; call about once a second.
    void sweep(clock::time_point now = clock::now());

    [[nodiscard]] const admission_options& options() const noexcept { return options_; }
    [[nodiscard]] std::size_t connections() const noexcept {
        return total_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::size_t connections_from(std::string_view address) const;
    [[nodiscard]] std::size_t connections_of(std::string_view user) const;
    // Addresses with a negotiate bucket (bounded by sweep()).
    [[nodiscard]] std::size_t rate_tracked_addresses() const;

private:
    friend class connection_lease;
    static constexpr std::size_t stripe_count = 16;
    struct count_stripe {
        mutable std::mutex mutex;
        std::unordered_map<std::string, std::size_t> counts;
    };
    using count_table = std::array<count_stripe, stripe_count>;
    struct rate_stripe {
        mutable std::mutex mutex;
        std::unordered_map<std::string, token_bucket> buckets;
    };

    static std::size_t stripe_of(std::string_view key) noexcept;
    static bool acquire(count_table& table, std::string_view key, std::size_t limit);
    static void release(count_table& table, const std::string& key) noexcept;
    static std::size_t count_in(const count_table& table, std::string_view key);
    bool take_negotiate_token(std::string_view address, clock::time_point now);
    void release(connection_lease& lease) noexcept;
    admission_result refuse(refusal reason);

    admission_options options_;
    metrics* metrics_;
    std::atomic<std::size_t> total_{0};
    count_table by_address_;
    count_table by_user_;
    std::array<rate_stripe, stripe_count> negotiate_rates_;
};

// 503 for the server-wide limit (capacity: another instance may have room), 429 otherwise.
unsigned refusal_status(refusal reason);
// The text/plain body: which limit and its value; the JS client shows it in its error.
std::string refusal_message(refusal reason, const admission_options& options);

}  // namespace switchboard::transport
