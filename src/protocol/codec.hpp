// The hub protocols side by side: one table row per wire protocol, so that code serving a
// connection picks its codec once instead of branching on the protocol at every step.
#pragma once

#include "core/expected.hpp"
#include "protocol/hub_message.hpp"
#include "protocol/message_reader.hpp"

#include <boost/json/array.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::protocol {

// Hub protocols a connection may speak; indexes per-protocol tables and encodings.
enum class wire_protocol : std::size_t { json = 0, messagepack = 1 };
inline constexpr std::size_t wire_protocol_count = 2;

// Plain function pointers, not virtual calls: every row is a constant of the program.
struct codec {
    wire_protocol protocol;
    std::string_view name;  // as the handshake names it
    // Needs the Binary transfer format, which Server-Sent Events cannot carry.
    bool binary;
    message_reader::framing framing;
    // One record as the reader cuts it (no separator, no length prefix).
    expected<hub_message> (*parse)(std::string_view record);
    // Appends `message`, framed.
    void (*write)(const hub_message& message, std::string& out);
    // Appends a framed invocation without id: the broadcast hot path, no hub_message built.
    void (*write_invocation)(std::string_view target, const boost::json::array& arguments,
                             std::string& out);
    // The record inside exactly one framed message (what write produced); false otherwise.
    bool (*unframe)(std::string_view framed, std::string_view& record);
};

[[nodiscard]] const codec& codec_of(wire_protocol protocol) noexcept;
// The codec the handshake's "protocol" names; null for a protocol we do not speak.
[[nodiscard]] const codec* find_codec(std::string_view name) noexcept;

}  // namespace switchboard::protocol
