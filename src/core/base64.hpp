// Base64 in the two alphabets the server meets: standard with padding (binary hub values,
// WebSocket keys) and base64url without padding (JWTs, JWKs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchboard {

// Standard base64 with padding, as .NET's Convert.ToBase64String and System.Text.Json write it.
void append_base64(std::string_view bytes, std::string& out);
// Accepts exactly the alphabet and padding append_base64 writes (no whitespace); appends the
// bytes to `out` and returns true, or returns false (out then holds a partial result).
bool decode_base64(std::string_view text, std::string& out);

// base64url without padding (RFC 7515 2).
std::string base64url_encode(std::string_view bytes);
// Strict: only the base64url alphabet, no padding, no length of 4n+1, zero trailing bits (so
// every byte string has exactly one encoding).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace switchboard
