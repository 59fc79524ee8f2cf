// The boundary between the server and hub code on a shard thread: whatever hub code throws
// stops here, is logged and counted, and never unwinds through io_context::run().
#pragma once

#include "core/expected.hpp"
#include "core/metrics.hpp"

#include <exception>
#include <optional>
#include <string_view>
#include <utility>

namespace switchboard::hub {

// What an exception becomes: its type (demangled, "std::runtime_error") and what().
[[nodiscard]] error describe_exception(const std::exception& thrown);
[[nodiscard]] error describe_unknown_exception();

// Runs `f` (hub code); the error it threw, if any, or nothing.
template <class F>
[[nodiscard]] std::optional<error> call_user(F&& f) noexcept {
    try {
        std::forward<F>(f)();
        return std::nullopt;
    } catch (const std::exception& thrown) {
        return describe_exception(thrown);
    } catch (...) {
        return describe_unknown_exception();
    }
}

// Where hub code threw, for the log line.
struct user_code_site {
    metric_hub_error place;
    std::string_view hub;
    std::string_view method;  // the method, or what ran ("group change callback")
    std::string_view connection_id;
};

// Logs `failure` with its site and counts it in `counters` (null: not counted).
void report_user_error(const user_code_site& site, const error& failure,
                       switchboard::metrics* counters) noexcept;

}  // namespace switchboard::hub
