// RFC 6455 framing for the server end of a WebSocket: an incremental parser of client frames that
// unmasks in place and validates as it goes, the headers of the frames we send, and the handshake
// key. Pure functions over bytes: the session does the I/O, the fuzzer drives the parser.
#pragma once

#include "core/utf8.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard::transport::websocket {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xa,
};

// The close codes we send (RFC 6455 7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t invalid_payload = 1007;
}  // namespace close_code

// Whether a peer may send `code` in a Close frame: the registered codes a peer may use and the
// ranges for libraries and applications (RFC 6455 7.4, IANA registry).
bool is_valid_close_code(std::uint16_t code) noexcept;

// A server frame header: 2 bytes, then 2 or 8 of extended length, never a mask.
constexpr std::size_t max_header_size = 10;
using frame_header = std::array<char, max_header_size>;

// Writes the header of a final, unmasked frame carrying `payload_size` bytes; returns its size.
std::size_t write_frame_header(opcode op, std::uint64_t payload_size, frame_header& out) noexcept;

// A whole Close frame: code, then the reason cut to what a control frame holds (on a UTF-8
// boundary, so the frame stays valid for browsers).
std::string make_close_frame(std::uint16_t code, std::string_view reason);

// A whole control frame (Pong) carrying `payload` (at most 125 bytes, as the Ping had).
std::string make_control_frame(opcode op, std::string_view payload);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2), or nothing when the
// key is not the base64 of 16 bytes.
std::optional<std::string> accept_key(std::string_view client_key);

// Why the parser failed the connection: the code and reason of the Close frame we answer with.
struct frame_error {
    std::uint16_t code;
    std::string_view reason;
};

// What the parser hands out. Data arrives as a byte stream: frame and message boundaries are
// dropped because the hub protocol frames its messages itself.
class frame_handler {
public:
    virtual ~frame_handler() = default;
    // Payload of Text, Binary and continuation frames, unmasked, in order; never empty.
    virtual void on_data(std::string_view bytes) = 0;
    // A whole, validated control frame (Close, Ping or Pong).
    virtual void on_control(opcode op, std::string_view payload) = 0;
};

// Parses the frames a client sends, from reads of any size. Costs about 160 bytes, whatever the
// frame sizes: payload is handed out as it arrives, only headers and control payloads (at most
// 125 bytes) are kept across reads.
class frame_parser {
public:
    // Consumes `input`, unmasking it in place. After an error, or once a Close frame has been
    // parsed, the rest of the input (and anything later) is ignored.
    std::optional<frame_error> parse(std::span<char> input, frame_handler& handler);
    // Whether a Close frame has been parsed.
    [[nodiscard]] bool close_received() const noexcept { return done_ && !failed_; }

private:
    std::optional<frame_error> on_header();
    std::optional<frame_error> on_frame_end(frame_handler& handler);
    std::optional<frame_error> fail(std::uint16_t code, std::string_view reason);

    std::uint64_t remaining_ = 0;  // payload bytes left in the current frame
    std::array<char, 125> control_{};
    std::array<std::uint8_t, 14> header_{};
    std::array<std::uint8_t, 4> mask_{};
    utf8_validator utf8_;
    opcode opcode_ = opcode::continuation;
    std::uint8_t header_size_ = 0;  // header bytes gathered so far
    std::uint8_t mask_offset_ = 0;  // where in the mask the next payload byte falls
    std::uint8_t control_size_ = 0;
    bool in_payload_ = false;
    bool fin_ = false;
    bool in_message_ = false;  // a fragmented Text or Binary message awaits continuations
    bool text_message_ = false;
    bool done_ = false;
    bool failed_ = false;
};

}  // namespace switchboard::transport::websocket
