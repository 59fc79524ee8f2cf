#include "transport/websocket_frame.hpp"

#include "core/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace switchboard::transport::websocket {

namespace {
constexpr std::size_t max_control_payload = 125;
// RFC 6455 1.3: what the server appends to the client's key before hashing.
constexpr std::string_view handshake_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(opcode op) noexcept {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

// XORs `size` bytes with the mask starting at `offset` (0..3); returns the next offset.
std::uint8_t unmask(char* data, std::size_t size, const std::array<std::uint8_t, 4>& mask,
                    std::uint8_t offset) noexcept {
    std::size_t i = 0;
    // Word at a time: the mask repeats every 4 bytes, so 8 of them rotated to `offset` cover a
    // word whatever its alignment in the frame.
    std::array<std::uint8_t, 8> rotated{};
    for (std::size_t k = 0; k < rotated.size(); ++k) {
        rotated[k] = mask[(offset + k) % 4];
    }
    std::uint64_t word_mask = 0;
    std::memcpy(&word_mask, rotated.data(), sizeof word_mask);
    for (; i + 8 <= size; i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, data + i, sizeof word);
        word ^= word_mask;
        std::memcpy(data + i, &word, sizeof word);
    }
    for (; i < size; ++i) {
        data[i] = static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ mask[(offset + i) % 4]);
    }
    return static_cast<std::uint8_t>((offset + size) % 4);
}

// Header bytes needed so far: 2, then the extended length, then the mask key.
std::size_t header_size_needed(const std::array<std::uint8_t, 14>& header,
                               std::size_t gathered) noexcept {
    if (gathered < 2) {
        return 2;
    }
    const std::size_t mask_size = (header[1] & 0x80) != 0 ? 4 : 0;
    switch (header[1] & 0x7f) {
    case 126:
        return 4 + mask_size;
    case 127:
        return 10 + mask_size;
    default:
        return 2 + mask_size;
    }
}
}  // namespace

bool is_valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

std::size_t write_frame_header(opcode op, std::uint64_t payload_size, frame_header& out) noexcept {
    out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    if (payload_size < 126) {
        out[1] = static_cast<char>(payload_size);
        return 2;
    }
    if (payload_size <= 0xffff) {
        out[1] = static_cast<char>(126);
        out[2] = static_cast<char>(payload_size >> 8);
        out[3] = static_cast<char>(payload_size);
        return 4;
    }
    out[1] = static_cast<char>(127);
    for (std::size_t i = 0; i < 8; ++i) {
        out[2 + i] = static_cast<char>(payload_size >> (56 - 8 * i));
    }
    return 10;
}

std::string make_control_frame(opcode op, std::string_view payload) {
    payload = payload.substr(0, max_control_payload);
    frame_header header{};
    const auto header_size = write_frame_header(op, payload.size(), header);
    std::string frame(header.data(), header_size);
    frame.append(payload);
    return frame;
}

std::string make_close_frame(std::uint16_t code, std::string_view reason) {
    // The code takes 2 of the 125 bytes; a cut inside a character would make the frame invalid.
    if (reason.size() > max_control_payload - 2) {
        reason = reason.substr(0, max_control_payload - 2);
        while (!reason.empty() && (static_cast<std::uint8_t>(reason.back()) & 0xc0) == 0x80) {
            reason.remove_suffix(1);
        }
        if (!reason.empty() && static_cast<std::uint8_t>(reason.back()) >= 0xc0) {
            reason.remove_suffix(1);
        }
    }
    std::string payload;
    payload.reserve(2 + reason.size());
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code));
    payload.append(reason);
    return make_control_frame(opcode::close, payload);
}

std::optional<std::string> accept_key(std::string_view client_key) {
    std::string nonce;
    if (client_key.size() != 24 || !decode_base64(client_key, nonce) || nonce.size() != 16) {
        return std::nullopt;
    }
    std::string input(client_key);
    input.append(handshake_guid);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digest_size = 0;
    if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) !=
        1) {
        return std::nullopt;
    }
    std::string accept;
    append_base64(std::string_view(reinterpret_cast<const char*>(digest.data()), digest_size),
                  accept);
    return accept;
}

std::optional<frame_error> frame_parser::fail(std::uint16_t code, std::string_view reason) {
    done_ = true;
    failed_ = true;
    return frame_error{code, reason};
}

std::optional<frame_error> frame_parser::parse(std::span<char> input, frame_handler& handler) {
    std::size_t pos = 0;
    while (pos < input.size() && !done_) {
        if (!in_payload_) {
            std::size_t needed = header_size_needed(header_, header_size_);
            while (header_size_ < needed && pos < input.size()) {
                header_[header_size_++] = static_cast<std::uint8_t>(input[pos++]);
                needed = header_size_needed(header_, header_size_);
            }
            if (header_size_ < needed) {
                return std::nullopt;  // the rest of the header comes with the next read
            }
            if (auto error = on_header()) {
                return error;
            }
            if (remaining_ == 0) {
                if (auto error = on_frame_end(handler)) {
                    return error;
                }
            }
            continue;
        }
        const auto size =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size() - pos));
        char* data = input.data() + pos;
        mask_offset_ = unmask(data, size, mask_, mask_offset_);
        pos += size;
        remaining_ -= size;
        if (is_control(opcode_)) {
            std::memcpy(control_.data() + control_size_, data, size);
            control_size_ = static_cast<std::uint8_t>(control_size_ + size);
        } else {
            const std::string_view bytes(data, size);
            if (text_message_ && !utf8_.feed(bytes)) {
                return fail(close_code::invalid_payload, "Invalid UTF-8 in a Text message");
            }
            handler.on_data(bytes);
        }
        if (remaining_ == 0) {
            if (auto error = on_frame_end(handler)) {
                return error;
            }
        }
    }
    return std::nullopt;
}

std::optional<frame_error> frame_parser::on_header() {
    const std::uint8_t first = header_[0];
    const std::uint8_t second = header_[1];
    header_size_ = 0;
    fin_ = (first & 0x80) != 0;
    if ((first & 0x70) != 0) {
        return fail(close_code::protocol_error, "Reserved bits set (no extension negotiated)");
    }
    const auto code = static_cast<std::uint8_t>(first & 0x0f);
    if (code > 0x2 && (code < 0x8 || code > 0xa)) {
        return fail(close_code::protocol_error, "Unknown opcode");
    }
    opcode_ = static_cast<opcode>(code);
    if ((second & 0x80) == 0) {
        return fail(close_code::protocol_error, "Client frames must be masked");
    }
    std::uint64_t length = second & 0x7f;
    std::size_t mask_at = 2;
    if (length == 126) {
        length = (std::uint64_t{header_[2]} << 8) | header_[3];
        mask_at = 4;
        if (length < 126) {
            return fail(close_code::protocol_error, "Frame length not in its shortest form");
        }
    } else if (length == 127) {
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) {
            length = (length << 8) | header_[i];
        }
        mask_at = 10;
        if (length <= 0xffff || (length >> 63) != 0) {
            return fail(close_code::protocol_error, "Frame length not in its shortest form");
        }
    }
    std::copy_n(header_.begin() + static_cast<std::ptrdiff_t>(mask_at), mask_.size(),
                mask_.begin());
    mask_offset_ = 0;
    remaining_ = length;
    if (is_control(opcode_)) {
        if (!fin_ || length > max_control_payload) {
            return fail(close_code::protocol_error, "Fragmented or oversized control frame");
        }
        control_size_ = 0;
    } else if (opcode_ == opcode::continuation) {
        if (!in_message_) {
            return fail(close_code::protocol_error, "Continuation frame outside a message");
        }
    } else {
        if (in_message_) {
            return fail(close_code::protocol_error, "New message inside a fragmented message");
        }
        in_message_ = true;
        text_message_ = opcode_ == opcode::text;
        utf8_.reset();
    }
    in_payload_ = true;
    return std::nullopt;
}

std::optional<frame_error> frame_parser::on_frame_end(frame_handler& handler) {
    in_payload_ = false;
    if (!is_control(opcode_)) {
        if (fin_) {
            in_message_ = false;
            if (text_message_ && !utf8_.complete()) {
                return fail(close_code::invalid_payload, "Invalid UTF-8 in a Text message");
            }
        }
        return std::nullopt;
    }
    const std::string_view payload(control_.data(), control_size_);
    if (opcode_ == opcode::close) {
        if (payload.size() == 1) {
            return fail(close_code::protocol_error, "Close frame with a 1-byte payload");
        }
        if (payload.size() >= 2) {
            const auto code =
                static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                           static_cast<std::uint8_t>(payload[1]));
            if (!is_valid_close_code(code)) {
                return fail(close_code::protocol_error, "Invalid close code");
            }
            utf8_validator reason;
            if (!reason.feed(payload.substr(2)) || !reason.complete()) {
                return fail(close_code::invalid_payload, "Invalid UTF-8 in a close reason");
            }
        }
        done_ = true;
    }
    handler.on_control(opcode_, payload);
    return std::nullopt;
}

}  // namespace switchboard::transport::websocket
