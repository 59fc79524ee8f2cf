// RESP2 framing: the commands the client sends, and of what Redis sends, where a reply ends
// and the two replies a busy pub/sub connection is made of (a PUBLISH's integer, a pushed
// message) read in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::redis::resp {

// "$<size>\r\n", appended in place: this runs once or twice per publish.
void append_bulk_header(std::string& out, std::size_t size);
// A bulk string: header, bytes, CRLF.
void append_bulk(std::string& out, std::string_view argument);
// A command: an array of bulk strings.
[[nodiscard]] std::string encode_array(const std::vector<std::string_view>& arguments);

// The bytes of the complete reply at the start of `data`, nested arrays included: 0 when it
// is not complete yet, nullopt when the bytes are not RESP2 (the reader then reports it).
// RESP2 only: the client never sends HELLO, so Redis never answers in RESP3.
std::optional<std::size_t> reply_size(std::string_view data) noexcept;

// `reply` (one complete reply) as ":<integer>\r\n", or nothing.
std::optional<std::int64_t> integer_reply(std::string_view reply) noexcept;

// A pushed publication: ["message", channel, payload], or ["smessage", ...] (sharded).
struct message {
    std::string_view channel;
    std::string_view payload;
};
// `reply` (one complete reply) as a pushed publication, views into it; or nothing.
std::optional<message> message_reply(std::string_view reply) noexcept;

}  // namespace switchboard::routing::redis::resp
