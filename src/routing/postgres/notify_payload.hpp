// The text a NOTIFY carries: a router payload inline as base64, or a reference to a row of the
// payload table. Pure functions over bytes, fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace switchboard::routing::postgres {

// Format, version 1 (the first byte names the kind; another byte is a later format):
//   i<seq>:<base64>   the payload inline, standard base64 with padding
//   r<seq>:<id>       the payload is row <id> (decimal, > 0) of the channel's hub's payload table
// <seq> is 1-16 lowercase hex digits, a per-publisher counter. It makes every NOTIFY of one
// transaction (one pipeline batch) distinct: PostgreSQL folds identical (channel, payload)
// notifications of a transaction into one, which would lose a message sent twice in a row.

// PostgreSQL's NOTIFY_PAYLOAD_MAX_LENGTH (8000) in the default build: payloads must be shorter.
inline constexpr std::size_t max_notify_bytes = 7999;
// 'i' or 'r', up to 16 hex digits and ':'.
inline constexpr std::size_t max_header_bytes = 18;

// The largest payload sent inline; above it, the table (5985 bytes: its base64 and the longest
// header stay under 8000).
[[nodiscard]] constexpr std::size_t max_inline_bytes() noexcept {
    return (max_notify_bytes - max_header_bytes) / 4 * 3;
}

// Appends "i<seq>:<base64 of payload>".
void encode_inline(std::uint64_t seq, std::string_view payload, std::string& out);
// "r<seq>:": the reference prefix, to which the publishing statement appends the row id.
[[nodiscard]] std::string reference_prefix(std::uint64_t seq);

struct inline_payload {
    std::string bytes;
};
struct payload_reference {
    std::int64_t row_id = 0;
};
using decoded_notify = std::variant<inline_payload, payload_reference>;

// nullopt for anything the encoder above does not produce (another application's NOTIFY on a
// name we listen to, a truncated or corrupted payload).
[[nodiscard]] std::optional<decoded_notify> decode_notify(std::string_view text);

}  // namespace switchboard::routing::postgres
