// ASCII case-insensitive comparisons, for the keys, schemes and header tokens we parse.
#pragma once

#include <algorithm>
#include <string_view>

namespace switchboard {

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Not Beast's iequals: in Boost 1.81 it reads one byte past both inputs when equal-length
// strings differ in case (found by postgres_connection_string_fuzz under ASan).
[[nodiscard]] constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

[[nodiscard]] constexpr bool ascii_istarts_with(std::string_view text,
                                                std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && ascii_iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace switchboard
