#include "core/log_context.hpp"

#include <atomic>

namespace switchboard {

log_context& current_log_context() noexcept {
    thread_local log_context context;
    return context;
}

std::uint64_t next_request_id() noexcept {
    static std::atomic<std::uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace switchboard
