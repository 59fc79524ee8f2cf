// What a client sends on a connection (WebSocket frames, POST bodies: one byte stream), cut
// into the handshake record and then the frames of the negotiated hub protocol.
#pragma once

#include "protocol/binary_framing.hpp"
#include "protocol/text_framing.hpp"

#include <cstddef>
#include <string_view>

namespace switchboard::protocol {

class message_reader {
public:
    enum class framing : unsigned char { handshake, text, binary };
    enum class status : unsigned char { record, need_more, too_large, invalid };

    explicit message_reader(std::size_t max_message_size);

    void append(std::string_view bytes);

    // The next record: the handshake while framing() is handshake, then one message body per
    // call. `record` stays valid until the next append() or next().
    status next(std::string_view& record);

    // After the handshake: the negotiated protocol's framing. Bytes that followed the
    // handshake in the same chunk are its first frames.
    void start(framing negotiated);
    [[nodiscard]] framing current() const noexcept { return framing_; }

private:
    text_frame_reader text_;      // the handshake, then JSON
    binary_frame_reader binary_;  // MessagePack
    framing framing_ = framing::handshake;
};

}  // namespace switchboard::protocol
