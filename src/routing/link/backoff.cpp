#include "routing/link/backoff.hpp"

#include <algorithm>
#include <atomic>

namespace switchboard::routing::link {

backoff::backoff(duration initial, duration max, std::uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)), previous_(initial), random_(seed) {}

backoff::duration backoff::next() {
    // One millisecond at least as the base of growth, so a zero `initial` still grows.
    const auto upper = std::min(max_, std::max(initial_, std::max(previous_, duration{1}) * 3));
    std::uniform_int_distribution<duration::rep> draw(initial_.count(), upper.count());
    previous_ = duration{draw(random_)};
    spread_ = upper - initial_;
    fresh_ = false;
    return previous_;
}

void backoff::reset() noexcept {
    previous_ = initial_;
    fresh_ = true;
}

std::uint64_t backoff::process_seed() {
    static const std::uint64_t base = [] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }();
    static std::atomic<std::uint64_t> calls{0};
    // splitmix64 of a per-call counter: well-spread seeds even for consecutive calls.
    auto z = base + (calls.fetch_add(1, std::memory_order_relaxed) + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace switchboard::routing::link
