// ASCII case-insensitive comparisons and trimming, for the keys, schemes and header tokens we
// parse.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace switchboard {

[[nodiscard]] constexpr bool ascii_space(char c) noexcept {
    return c == ' ' || (c >= '\t' && c <= '\r');  // as std::isspace in the C locale
}

// `text` without leading and trailing ASCII whitespace.
[[nodiscard]] constexpr std::string_view ascii_trim(std::string_view text) noexcept {
    while (!text.empty() && ascii_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && ascii_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// A lower-case copy, e.g. a key for case-insensitive lookups.
[[nodiscard]] inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        c = ascii_lower(c);
    }
    return out;
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
