#include "protocol/text_framing.hpp"

#include <cstring>

namespace switchboard::protocol {

text_frame_reader::text_frame_reader(std::size_t max_message_size)
    : max_message_size_(max_message_size) {}

void text_frame_reader::append(std::string_view bytes) {
    // Records handed out earlier die here anyway, so dropping them costs no caller anything and
    // keeps the buffer at one partial record plus the new bytes.
    if (consumed_ != 0) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

text_frame_reader::status text_frame_reader::next(std::string_view& record) {
    // Many records in one append would otherwise leave a long dead prefix until the next append.
    if (consumed_ != 0 && consumed_ >= buffer_.size() - consumed_) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }

    const std::size_t pending = buffer_.size() - consumed_;
    // The separator may sit right after a record of max_message_size bytes, hence the + 1.
    const std::size_t window = pending > max_message_size_ ? max_message_size_ + 1 : pending;
    // Resuming after the bytes already searched keeps a record trickling in byte by byte linear.
    if (scanned_ < window) {
        const char* begin = buffer_.data() + consumed_;
        const void* found = std::memchr(begin + scanned_, record_separator, window - scanned_);
        if (found != nullptr) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(found) - begin);
            record = std::string_view(begin, length);
            consumed_ += length + 1;
            scanned_ = 0;
            return status::record;
        }
        scanned_ = window;
    }
    return pending > max_message_size_ ? status::too_large : status::need_more;
}

std::size_t text_frame_reader::buffered() const noexcept {
    return buffer_.size() - consumed_;
}

}  // namespace switchboard::protocol
