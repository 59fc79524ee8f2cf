// Which request or connection a thread works for, so that JSON log lines name it in fields of
// their own ("request", "connection") rather than only in their text. A shard runs one handler
// at a time, so a thread-local set for the span of a handler is exact; scopes nest.
#pragma once

#include <cstdint>
#include <string_view>

namespace switchboard {

struct log_context {
    std::uint64_t request = 0;    // 0: none; numbered per process by the HTTP server
    std::string_view connection;  // empty: none; the string outlives every scope naming it
};

// The calling thread's context: what the JSON log format reads.
[[nodiscard]] log_context& current_log_context() noexcept;

// A new number for an HTTP request, unique in this process; any thread.
[[nodiscard]] std::uint64_t next_request_id() noexcept;

// Names a request or a connection for its lifetime, then restores what was named before.
class log_scope {
public:
    explicit log_scope(std::uint64_t request) noexcept : saved_(current_log_context()) {
        current_log_context().request = request;
    }
    explicit log_scope(std::string_view connection) noexcept : saved_(current_log_context()) {
        current_log_context().connection = connection;
    }
    ~log_scope() { current_log_context() = saved_; }
    log_scope(const log_scope&) = delete;
    log_scope& operator=(const log_scope&) = delete;

private:
    log_context saved_;
};

}  // namespace switchboard
