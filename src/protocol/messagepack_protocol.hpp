// The MessagePack hub protocol: hub messages to and from varint-framed MessagePack arrays.
//
// Values map to hub_value (boost::json::value) as follows. Reading: nil, bool, str, array map
// naturally; integers become int64 (uint64 only above INT64_MAX); float32 and float64 become
// double; bin8/16/32 and the timestamp extension (type -1, all three lengths) become the tagged
// values of hub_value.hpp. Maps need string keys. Other extension types are rejected rather than
// kept: no hub method can bind them and no JSON client could receive them. A value may nest at
// most max_messagepack_depth arrays and maps. Writing: integers in their most compact format
// (as the .NET writer), doubles always as float64, tagged values as bin / timestamp (the
// smallest of the three timestamp formats).
#pragma once

#include "core/expected.hpp"
#include "protocol/hub_message.hpp"

#include <boost/json/array.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::protocol {

// Arrays and maps nested deeper in one argument, item or result fail to parse.
inline constexpr std::size_t max_messagepack_depth = 64;

// Parses one message body: the bytes binary_frame_reader yields, without the varint prefix.
// Errors carry the exact ASP.NET texts for the message structure ("Reading 'messageType' as
// Int32 failed.", "Null or empty target for Invocation message.", ...). Unlike ASP.NET, the
// item count of the message array is authoritative: a required item beyond it fails with the
// error of that item instead of being read from whatever follows. Bytes after the array are
// ignored, as are items beyond the ones this type uses. A malformed argument, item or result
// fails the whole message ("Reading 'arguments' failed. Reading map key as String failed."),
// where ASP.NET would report a binding failure.
expected<hub_message> parse_messagepack_message(std::string_view body);

// Appends the varint prefix and the body of `message`, in the layouts the ASP.NET server writes:
// Invocation and StreamInvocation always with 6 items (an absent or empty invocation id as nil,
// no stream ids as []), Close always with 3 (an empty error as nil). An unknown_message is
// written as [type].
void write_messagepack_message(const hub_message& message, std::string& out);

// Appends a framed server-to-client invocation without an id: [1, {}, nil, target, [args], []].
// The hot path of every broadcast: no hub_message is built.
void write_messagepack_invocation(std::string_view target, const boost::json::array& arguments,
                                  std::string& out);

// One value, unframed: the building blocks of the above, for callers that carry MessagePack
// values on their own. parse_messagepack_value requires `bytes` to hold exactly one value.
void append_messagepack_value(const hub_value& value, std::string& out);
expected<hub_value> parse_messagepack_value(std::string_view bytes);

}  // namespace switchboard::protocol
