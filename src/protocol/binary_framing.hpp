// Varint length-prefix framing of the MessagePack hub protocol: one byte stream in, whole bodies
// out, and the prefix for bodies going the other way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::protocol {

// The largest body a prefix can announce: FF FF FF FF 07.
inline constexpr std::size_t max_binary_body_size = 0x7FFFFFFF;

// A prefix holds 7 bits per byte, least significant group first, at most 5 bytes.
inline constexpr std::size_t max_varint_prefix_size = 5;

// Bytes the prefix of a body of `body_size` bytes takes (1 to 5).
[[nodiscard]] std::size_t varint_prefix_size(std::size_t body_size) noexcept;

// Appends the varint prefix announcing `body_size` (at most max_binary_body_size).
void append_varint_prefix(std::size_t body_size, std::string& out);

// Appends `body` with its prefix.
void append_varint_frame(std::string_view body, std::string& out);

// Writers that do not know the body size in advance: begin_varint_frame reserves one prefix
// byte at the end of `out` and returns where the frame starts; after the body has been
// appended, end_varint_frame writes the prefix there, moving the body only when it needs more
// than one prefix byte (bodies of 128 bytes or more).
std::size_t begin_varint_frame(std::string& out);
void end_varint_frame(std::string& out, std::size_t frame_start);

// Accumulates the bytes a client sends (frame and POST boundaries mean nothing) and yields
// complete bodies, with the same shape as text_frame_reader.
//
// The size limit applies to the body length a prefix announces, without the prefix: a body of
// max_message_size bytes passes, one more byte is too_large. It is reported as soon as the
// prefix is complete, before the body is buffered. A prefix over 2 GB (a fifth byte above 7)
// is invalid ("Messages over 2GB in size are not supported."). Both states are final: the
// stream cannot be resynchronised, and next() keeps reporting them.
class binary_frame_reader {
public:
    enum class status { record, need_more, too_large, invalid };

    explicit binary_frame_reader(std::size_t max_message_size);

    void append(std::string_view bytes);

    // On status::record, `record` holds one body without its prefix; it stays valid until the
    // next call to append() or next().
    status next(std::string_view& record);

    // Bytes received but not yet returned as records (prefixes included).
    [[nodiscard]] std::size_t buffered() const noexcept;

private:
    std::string buffer_;
    std::size_t consumed_ = 0;  // prefix of buffer_ already returned as records
    std::size_t max_message_size_;
};

// The ASP.NET text of the invalid status, for the Close message.
inline constexpr std::string_view binary_prefix_too_large_error =
    "Messages over 2GB in size are not supported.";

}  // namespace switchboard::protocol
