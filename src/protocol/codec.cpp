#include "protocol/codec.hpp"

#include "protocol/binary_framing.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <array>

namespace switchboard::protocol {

namespace {

bool unframe_text(std::string_view framed, std::string_view& record) {
    if (framed.empty() || framed.back() != record_separator) {
        return false;
    }
    record = framed.substr(0, framed.size() - 1);
    // JSON text escapes every control character: a separator inside means several records.
    return record.find(record_separator) == std::string_view::npos;
}

bool unframe_binary(std::string_view framed, std::string_view& record) {
    std::size_t size = 0;
    for (std::size_t i = 0; i < framed.size() && i < max_varint_prefix_size; ++i) {
        const auto byte = static_cast<unsigned char>(framed[i]);
        size |= static_cast<std::size_t>(byte & 0x7F) << (7 * i);
        if ((byte & 0x80) == 0) {
            record = framed.substr(i + 1);
            return size <= max_binary_body_size && record.size() == size;
        }
    }
    return false;
}

// Indexed by wire_protocol.
const std::array<codec, wire_protocol_count> codecs{{
    {wire_protocol::json, "json", false, message_reader::framing::text, parse_json_message,
     write_json_message, write_json_invocation, unframe_text},
    {wire_protocol::messagepack, "messagepack", true, message_reader::framing::binary,
     parse_messagepack_message, write_messagepack_message, write_messagepack_invocation,
     unframe_binary},
}};

}  // namespace

const codec& codec_of(wire_protocol protocol) noexcept {
    return codecs[static_cast<std::size_t>(protocol)];
}

const codec* find_codec(std::string_view name) noexcept {
    for (const auto& entry : codecs) {
        if (entry.name == name) {
            return &entry;
        }
    }
    return nullptr;
}

}  // namespace switchboard::protocol
