// The ASP.NET Core SignalR scale-out payloads, spoken over every bus: MessagePack arrays to and
// from values, byte-compatible with Microsoft.AspNetCore.SignalR.StackExchangeRedis, where the
// format comes from (RedisProtocol.cs).
//
// The message type is implied by the channel (channels.hpp); no type byte is sent. Decoders
// follow the .NET reader: the array may hold more items than the type uses (they are ignored,
// as are bytes after the array), integers may come in any MessagePack integer format that fits,
// and where .NET reads a nullable string at an optional position, nil is accepted. Anything
// else fails with an error (type "InvalidDataException", as .NET throws) instead of a guess:
// the whole input must first be well-formed MessagePack (mp_check), then every read is
// bounds-checked on its own. No function throws on untrusted bytes.
#pragma once

#include "core/expected.hpp"
#include "core/shared_buffer.hpp"
#include "routing/serialized_message.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::scaleout {

// The hub protocol names ASP.NET uses as keys of an invocation's payload map.
inline constexpr std::string_view json_protocol_name = "json";
inline constexpr std::string_view messagepack_protocol_name = "messagepack";

[[nodiscard]] constexpr std::string_view protocol_name(wire_protocol protocol) noexcept {
    return protocol == wire_protocol::json ? json_protocol_name : messagepack_protocol_name;
}

// One serialization of a hub message: the hub protocol's framed bytes (JSON + 0x1E, or varint
// length + MessagePack), written to a client socket as they are.
struct protocol_payload {
    std::string protocol;
    shared_buffer bytes;
};

// §2.1: a hub invocation for the all, connection, user and group channels. A receiver forwards
// payload(its client's protocol) to each local recipient without re-encoding (DESIGN.md
// decision 2); a missing entry means the publisher could not serve that client (.NET then
// aborts the client's connection).
struct invocation {
    std::vector<std::string> excluded_connection_ids;  // ordinal comparison; empty for none
    std::vector<protocol_payload> payloads;            // in wire order
    // Present only in the 4-item form of a client-result request (§3.7): the invocation id and
    // the return channel "{hub}:internal:return:{server}" without the channel prefix. Either
    // may be absent (nil on the wire) in a 4-item array.
    std::optional<std::string> invocation_id;
    std::optional<std::string> return_channel;

    // The first payload for `protocol`, or nullptr.
    [[nodiscard]] const shared_buffer* payload(std::string_view protocol) const noexcept;
    [[nodiscard]] const shared_buffer* payload(wire_protocol protocol) const noexcept {
        return payload(protocol_name(protocol));
    }
    [[nodiscard]] bool excludes(std::string_view connection_id) const noexcept;
};

// GroupAction.cs: the values are the protocol; 0 is intentionally unused.
enum class group_action : std::uint8_t { add = 1, remove = 2 };

// §2.2: asks the server owning `connection_id` to add it to or remove it from `group_name`,
// then ack `id` on "{hub}:internal:ack:{server_name}".
struct group_command {
    std::int32_t id = 0;
    std::string server_name;
    group_action action = group_action::add;
    std::string group_name;
    std::string connection_id;

    friend bool operator==(const group_command&, const group_command&) = default;
};

// §2.4: a client's answer to a client-result invocation, in the protocol of that client.
struct completion {
    std::string protocol;
    shared_buffer bytes;  // that protocol's serialized CompletionMessage
};

// Encoders write what the .NET writer writes: integers in their smallest format, strings as
// str, payloads as bin. The 4-item invocation form is written when either optional field is
// set (the absent one as nil), the 2-item form otherwise. Preconditions: no string or payload
// over 4 GiB, no null payload.
[[nodiscard]] std::string encode_invocation(const invocation& invocation);
// The hot path of a cross-instance broadcast: the json and messagepack framings of `message`
// (each built at most once and shared with local recipients), 2-item form.
[[nodiscard]] std::string encode_invocation(const serialized_message& message,
                                            std::span<const std::string> excluded_connection_ids);
[[nodiscard]] std::string encode_group_command(const group_command& command);
[[nodiscard]] std::string encode_ack(std::int32_t id);
[[nodiscard]] std::string encode_completion(std::string_view protocol,
                                            std::string_view completion_bytes);

// Each payload is copied once into its own shared_buffer; the result does not refer to `bytes`.
[[nodiscard]] expected<invocation> decode_invocation(std::string_view bytes);
// An action other than add or remove is an error: no .NET writer sends one.
[[nodiscard]] expected<group_command> decode_group_command(std::string_view bytes);
[[nodiscard]] expected<std::int32_t> decode_ack(std::string_view bytes);
[[nodiscard]] expected<completion> decode_completion(std::string_view bytes);

}  // namespace switchboard::routing::scaleout
