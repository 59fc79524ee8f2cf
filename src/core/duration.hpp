// Durations on the command line: "15s", "250ms", "2m", "1h"; a bare number is milliseconds.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace switchboard {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace switchboard
