#include "core/utf8.hpp"

#include <cstddef>
#include <cstring>

namespace switchboard {

namespace {

// What a lead byte announces: how many continuation bytes follow and the range of the first
// one. The one statement of RFC 3629's rules, for the validator and the repair alike.
struct lead_rule {
    std::uint8_t continuations = 0;  // 0 for ASCII
    std::uint8_t first_low = 0x80;
    std::uint8_t first_high = 0xbf;
    bool valid = true;
};

constexpr lead_rule rule_of(std::uint8_t lead) noexcept {
    if (lead < 0x80) {
        return {};
    }
    if (lead >= 0xc2 && lead <= 0xdf) {
        return {1};
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        // E0 needs A0..BF (no overlong forms), ED needs 80..9F (no surrogates).
        return {2, static_cast<std::uint8_t>(lead == 0xe0 ? 0xa0 : 0x80),
                static_cast<std::uint8_t>(lead == 0xed ? 0x9f : 0xbf)};
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        // F0 needs 90..BF (no overlong forms), F4 needs 80..8F (nothing past U+10FFFF).
        return {3, static_cast<std::uint8_t>(lead == 0xf0 ? 0x90 : 0x80),
                static_cast<std::uint8_t>(lead == 0xf4 ? 0x8f : 0xbf)};
    }
    return {0, 0, 0, false};  // a continuation byte, C0, C1 or F5..FF
}

// The length of the valid sequence starting at `text[i]`, or 0 when it is invalid.
std::size_t valid_sequence(std::string_view text, std::size_t i) noexcept {
    const auto rule = rule_of(static_cast<std::uint8_t>(text[i]));
    if (!rule.valid || text.size() - i <= rule.continuations) {
        return 0;  // not a lead byte, or truncated
    }
    for (std::size_t k = 1; k <= rule.continuations; ++k) {
        const auto next = static_cast<std::uint8_t>(text[i + k]);
        const std::uint8_t low = k == 1 ? rule.first_low : 0x80;
        const std::uint8_t high = k == 1 ? rule.first_high : 0xbf;
        if (next < low || next > high) {
            return 0;
        }
    }
    return 1 + rule.continuations;
}

}  // namespace

bool utf8_validator::feed(std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const auto* const end = p + bytes.size();
    while (p != end) {
        if (pending_ == 0) {
            // ASCII runs (most JSON) go a word at a time.
            while (end - p >= 8) {
                std::uint64_t word = 0;
                std::memcpy(&word, p, sizeof word);
                if ((word & 0x8080808080808080ULL) != 0) {
                    break;
                }
                p += 8;
            }
            if (p == end) {
                break;
            }
            const auto rule = rule_of(*p++);
            if (!rule.valid) {
                return false;
            }
            pending_ = rule.continuations;
            next_low_ = rule.first_low;
            next_high_ = rule.first_high;
            continue;
        }
        const std::uint8_t next = *p++;
        if (next < next_low_ || next > next_high_) {
            return false;
        }
        --pending_;
        next_low_ = 0x80;
        next_high_ = 0xbf;
    }
    return true;
}

bool is_valid_utf8(std::string_view text) noexcept {
    utf8_validator validator;
    return validator.feed(text) && validator.complete();
}

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto length = valid_sequence(text, i);
        if (length == 0) {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    return out;
}

}  // namespace switchboard
