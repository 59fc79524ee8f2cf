#include "protocol/message_reader.hpp"

namespace switchboard::protocol {

message_reader::message_reader(std::size_t max_message_size)
    : text_(max_message_size), binary_(max_message_size) {}

void message_reader::append(std::string_view bytes) {
    if (framing_ == framing::binary) {
        binary_.append(bytes);
    } else {
        text_.append(bytes);
    }
}

message_reader::status message_reader::next(std::string_view& record) {
    if (framing_ != framing::binary) {
        switch (text_.next(record)) {
        case text_frame_reader::status::record:
            return status::record;
        case text_frame_reader::status::need_more:
            return status::need_more;
        case text_frame_reader::status::too_large:
            return status::too_large;
        }
    }
    switch (binary_.next(record)) {
    case binary_frame_reader::status::record:
        return status::record;
    case binary_frame_reader::status::need_more:
        return status::need_more;
    case binary_frame_reader::status::too_large:
        return status::too_large;
    case binary_frame_reader::status::invalid:
        break;
    }
    return status::invalid;
}

void message_reader::start(framing negotiated) {
    if (framing_ != framing::handshake) {
        return;
    }
    framing_ = negotiated;
    if (negotiated == framing::binary) {
        binary_.append(text_.unread());
        text_ = text_frame_reader(0);  // releases the handshake buffer
    }
}

}  // namespace switchboard::protocol
