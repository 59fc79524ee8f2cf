// Record-separator framing of the JSON hub protocol and the handshake: one byte stream in, whole
// records out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::protocol {

// Terminates every JSON hub message and every handshake message.
inline constexpr char record_separator = '\x1e';

// Accumulates the bytes a client sends (frame and POST boundaries mean nothing) and yields
// complete records. A record is bounded by max_message_size: when no separator appears
// within that many buffered bytes the stream is unusable and next() reports too_large.
// The bound counts the record without its separator: max_message_size bytes plus 0x1E pass.
class text_frame_reader {
public:
    enum class status { record, need_more, too_large };

    explicit text_frame_reader(std::size_t max_message_size);

    void append(std::string_view bytes);

    // On status::record, `record` holds one message without its separator; it stays valid
    // until the next call to append() or next().
    status next(std::string_view& record);

    // Bytes received but not yet returned as records.
    [[nodiscard]] std::size_t buffered() const noexcept;
    // Those bytes themselves: after a MessagePack handshake they are the first binary frames.
    [[nodiscard]] std::string_view unread() const noexcept {
        return std::string_view(buffer_).substr(consumed_);
    }

private:
    std::string buffer_;
    std::size_t consumed_ = 0;  // prefix of buffer_ already returned as records
    std::size_t scanned_ = 0;   // bytes after consumed_ known to hold no separator
    std::size_t max_message_size_;
};

}  // namespace switchboard::protocol
