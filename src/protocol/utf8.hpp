// UTF-8 validation and repair for text that crosses protocols: a MessagePack str or a quoted
// handshake may hold any bytes, but JSON text (and WebSocket Text frames) must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace switchboard::protocol {

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept;

// `text` with every invalid sequence replaced by U+FFFD, as .NET's UTF-8 decoder does when
// MessagePack-CSharp or the handshake reader turn bytes into a string.
std::string to_valid_utf8(std::string_view text);

}  // namespace switchboard::protocol
