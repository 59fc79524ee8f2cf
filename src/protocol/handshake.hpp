// The JSON handshake that opens every hub connection: request parsing and response writing.
#pragma once

#include "core/expected.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::protocol {

struct handshake_request {
    std::string protocol;
    std::int64_t version = 0;
};

// Parses one handshake record (without the separator). Errors carry the exact ASP.NET texts,
// e.g. "Missing required property 'protocol'. Message content: {}".
expected<handshake_request> parse_handshake_request(std::string_view record);

// Appends `{}` or `{"error":"..."}` followed by the record separator.
void write_handshake_response(std::optional<std::string_view> error, std::string& out);

}  // namespace switchboard::protocol
