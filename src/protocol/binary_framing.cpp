#include "protocol/binary_framing.hpp"

#include <cassert>

namespace switchboard::protocol {

namespace {

// Writes the prefix of `body_size` to `out`, which has room for it; returns the bytes written.
std::size_t store_varint(std::size_t body_size, char* out) noexcept {
    std::size_t written = 0;
    do {
        auto byte = static_cast<unsigned char>(body_size & 0x7F);
        body_size >>= 7;
        if (body_size != 0) {
            byte |= 0x80;
        }
        out[written++] = static_cast<char>(byte);
    } while (body_size != 0);
    return written;
}

}  // namespace

std::size_t varint_prefix_size(std::size_t body_size) noexcept {
    std::size_t size = 1;
    while (body_size >= 0x80) {
        body_size >>= 7;
        ++size;
    }
    return size;
}

void append_varint_prefix(std::size_t body_size, std::string& out) {
    assert(body_size <= max_binary_body_size);
    char prefix[max_varint_prefix_size];
    out.append(prefix, store_varint(body_size, prefix));
}

void append_varint_frame(std::string_view body, std::string& out) {
    append_varint_prefix(body.size(), out);
    out.append(body);
}

std::size_t begin_varint_frame(std::string& out) {
    const std::size_t start = out.size();
    // Most hub messages are under 128 bytes and need exactly this one byte.
    out.push_back('\0');
    return start;
}

void end_varint_frame(std::string& out, std::size_t frame_start) {
    assert(frame_start < out.size());
    const std::size_t body_size = out.size() - frame_start - 1;
    assert(body_size <= max_binary_body_size);
    char prefix[max_varint_prefix_size];
    const std::size_t size = store_varint(body_size, prefix);
    if (size > 1) {
        out.insert(frame_start + 1, size - 1, '\0');
    }
    out.replace(frame_start, size, prefix, size);
}

binary_frame_reader::binary_frame_reader(std::size_t max_message_size)
    : max_message_size_(max_message_size) {}

void binary_frame_reader::append(std::string_view bytes) {
    // Bodies handed out earlier die here anyway (see text_frame_reader).
    if (consumed_ != 0) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

binary_frame_reader::status binary_frame_reader::next(std::string_view& record) {
    // Many bodies in one append would otherwise leave a long dead prefix until the next append.
    if (consumed_ != 0 && consumed_ >= buffer_.size() - consumed_) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }

    const auto* begin = reinterpret_cast<const unsigned char*>(buffer_.data()) + consumed_;
    const std::size_t pending = buffer_.size() - consumed_;

    // Decoding the prefix again on every call costs at most 5 bytes and keeps no state that a
    // partial prefix could leave inconsistent.
    std::size_t body_size = 0;
    std::size_t prefix_size = 0;
    while (true) {
        if (prefix_size == pending) {
            return status::need_more;
        }
        const unsigned char byte = begin[prefix_size];
        if (prefix_size == max_varint_prefix_size - 1 && byte > 0x07) {
            // Over 31 bits, or a continuation bit on the last allowed byte.
            return status::invalid;
        }
        body_size |= static_cast<std::size_t>(byte & 0x7F) << (7 * prefix_size);
        ++prefix_size;
        if ((byte & 0x80) == 0) {
            break;
        }
    }

    if (body_size > max_message_size_) {
        return status::too_large;
    }
    if (pending - prefix_size < body_size) {
        return status::need_more;
    }
    record = std::string_view(buffer_.data() + consumed_ + prefix_size, body_size);
    consumed_ += prefix_size + body_size;
    return status::record;
}

std::size_t binary_frame_reader::buffered() const noexcept {
    return buffer_.size() - consumed_;
}

}  // namespace switchboard::protocol
