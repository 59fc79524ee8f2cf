#include "transport/admission.hpp"

#include <functional>
#include <utility>

namespace switchboard::transport {

connection_lease& connection_lease::operator=(connection_lease&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        address_ = std::move(other.address_);
        user_ = std::move(other.user_);
    }
    return *this;
}

void connection_lease::release() noexcept {
    if (auto* owner = std::exchange(owner_, nullptr)) {
        owner->release(*this);
    }
}

admission_control::admission_control(admission_options options, metrics* counters)
    : options_(options), metrics_(counters) {}

std::size_t admission_control::stripe_of(std::string_view key) noexcept {
    return std::hash<std::string_view>{}(key) % stripe_count;
}

bool admission_control::acquire(count_table& table, std::string_view key, std::size_t limit) {
    auto& stripe = table[stripe_of(key)];
    std::lock_guard lock(stripe.mutex);
    auto [it, inserted] = stripe.counts.try_emplace(std::string(key), 0);
    if (it->second >= limit) {
        return false;  // never 0 here: a new entry starts below any limit of at least 1
    }
    ++it->second;
    return true;
}

void admission_control::release(count_table& table, const std::string& key) noexcept {
    auto& stripe = table[stripe_of(key)];
    std::lock_guard lock(stripe.mutex);
    const auto it = stripe.counts.find(key);
    if (it != stripe.counts.end() && --it->second == 0) {
        stripe.counts.erase(it);  // the table holds addresses and users with connections only
    }
}

std::size_t admission_control::count_in(const count_table& table, std::string_view key) {
    const auto& stripe = table[stripe_of(key)];
    std::lock_guard lock(stripe.mutex);
    const auto it = stripe.counts.find(std::string(key));
    return it == stripe.counts.end() ? 0 : it->second;
}

std::size_t admission_control::connections_from(std::string_view address) const {
    return count_in(by_address_, address);
}

std::size_t admission_control::connections_of(std::string_view user) const {
    return count_in(by_user_, user);
}

bool admission_control::take_negotiate_token(std::string_view address, clock::time_point now) {
    const auto& limit = options_.negotiate_rate_per_ip;
    if (limit.unlimited()) {
        return true;
    }
    auto& stripe = negotiate_rates_[stripe_of(address)];
    std::lock_guard lock(stripe.mutex);
    auto [it, inserted] = stripe.buckets.try_emplace(std::string(address), limit, now);
    return it->second.try_take(limit, now);
}

void admission_control::sweep(clock::time_point now) {
    const auto& limit = options_.negotiate_rate_per_ip;
    for (auto& stripe : negotiate_rates_) {
        std::lock_guard lock(stripe.mutex);
        std::erase_if(stripe.buckets,
                      [&](const auto& entry) { return entry.second.full(limit, now); });
    }
}

std::size_t admission_control::rate_tracked_addresses() const {
    std::size_t total = 0;
    for (const auto& stripe : negotiate_rates_) {
        std::lock_guard lock(stripe.mutex);
        total += stripe.buckets.size();
    }
    return total;
}

admission_result admission_control::refuse(refusal reason) {
    if (metrics_ != nullptr) {
        const auto limit = [reason] {
            switch (reason) {
            case refusal::connections:
                return metric_limit::connections;
            case refusal::connections_per_ip:
                return metric_limit::connections_per_ip;
            case refusal::connections_per_user:
                return metric_limit::connections_per_user;
            default:
                return metric_limit::negotiate_rate_per_ip;
            }
        }();
        metrics_->rejections_of(limit).add();
    }
    return {reason, {}};
}

admission_result admission_control::admit(std::string_view address, std::string_view user,
                                          clock::time_point now) {
    // The rate comes first: a refused request must not count, or even touch the other tables.
    if (!take_negotiate_token(address, now)) {
        return refuse(refusal::negotiate_rate_per_ip);
    }
    // The lease is built as places are taken, so an early return gives back those taken.
    admission_result admitted;
    auto& lease = admitted.lease;
    const auto before = total_.fetch_add(1, std::memory_order_relaxed);
    lease.owner_ = this;
    if (options_.max_connections != 0 && before >= options_.max_connections) {
        return refuse(refusal::connections);
    }
    if (options_.max_connections_per_ip != 0 && !address.empty()) {
        if (!acquire(by_address_, address, options_.max_connections_per_ip)) {
            return refuse(refusal::connections_per_ip);
        }
        lease.address_ = address;
    }
    if (options_.max_connections_per_user != 0 && !user.empty()) {
        if (!acquire(by_user_, user, options_.max_connections_per_user)) {
            return refuse(refusal::connections_per_user);
        }
        lease.user_ = user;
    }
    return admitted;
}

void admission_control::release(connection_lease& lease) noexcept {
    if (!lease.address_.empty()) {
        release(by_address_, lease.address_);
    }
    if (!lease.user_.empty()) {
        release(by_user_, lease.user_);
    }
    total_.fetch_sub(1, std::memory_order_relaxed);
}

unsigned refusal_status(refusal reason) {
    return reason == refusal::connections ? 503 : 429;
}

std::string refusal_message(refusal reason, const admission_options& options) {
    switch (reason) {
    case refusal::connections:
        return "Connection limit reached: this server accepts at most " +
               std::to_string(options.max_connections) + " connections.";
    case refusal::connections_per_ip:
        return "Too many connections from this IP address: at most " +
               std::to_string(options.max_connections_per_ip) + " per client address.";
    case refusal::connections_per_user:
        return "Too many connections for this user: at most " +
               std::to_string(options.max_connections_per_user) + " per user.";
    case refusal::negotiate_rate_per_ip: {
        const auto& rate = options.negotiate_rate_per_ip;
        return "Negotiate rate limit exceeded: at most " +
               std::to_string(static_cast<long long>(rate.per_second)) +
               " requests per second per client address (burst " +
               std::to_string(static_cast<long long>(rate.burst)) + ").";
    }
    case refusal::none:
        break;
    }
    return {};
}

}  // namespace switchboard::transport
