// UTF-8 validation (RFC 3629) for everything that must be text: WebSocket Text frames as they
// stream in, JSON, strings crossing from MessagePack; and repair the way .NET decodes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard {

// Validates across chunk boundaries with no buffering: a Text message may arrive in any number
// of frames and reads, split inside a character.
class utf8_validator {
public:
    // False as soon as `bytes` cannot continue valid UTF-8.
    bool feed(std::string_view bytes) noexcept;
    // True when no character is left open.
    [[nodiscard]] bool complete() const noexcept { return pending_ == 0; }
    void reset() noexcept { pending_ = 0; }

private:
    std::uint8_t pending_ = 0;  // continuation bytes still expected
    // Range of the next continuation byte: narrower after E0, ED, F0, F4 (no overlong forms,
    // no surrogates, nothing above U+10FFFF).
    std::uint8_t next_low_ = 0x80;
    std::uint8_t next_high_ = 0xbf;
};

// No overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept;

// `text` with every invalid sequence replaced by U+FFFD, as .NET's UTF-8 decoder does when
// MessagePack-CSharp or the handshake reader turn bytes into a string.
std::string to_valid_utf8(std::string_view text);

}  // namespace switchboard
