// Binary and timestamp hub values: MessagePack has them (bin, timestamp extension -1), JSON
// values do not, so they travel in a hub_value as tagged objects.
//
// A tagged value is a boost::json::object with exactly one member whose key is a reserved marker
// starting with a NUL byte:
//   binary     {"\0bin": "<raw bytes>"}       the bytes in a json::string, which holds any byte
//   timestamp  {"\0ts": [seconds, nanoseconds]} seconds since 1970-01-01T00:00:00Z (int64) and
//                                               nanoseconds in [0, 999999999]
// The MessagePack reader produces them and its writer turns them back into bin / timestamp; the
// JSON writer renders them as ASP.NET's JSON protocol does: a base64 string and an ISO-8601 UTC
// string. An object with a marker key but a malformed value is an ordinary object. Nothing
// stops a JSON client from sending such an object itself; it is then rendered as binary or
// timestamp too, which grants it nothing it could not have sent as a string.
#pragma once

#include "protocol/hub_message.hpp"

#include <boost/json/conversion.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/system_error.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {

inline constexpr std::string_view binary_marker{"\0bin", 4};
inline constexpr std::string_view timestamp_marker{"\0ts", 3};

// Bytes, e.g. a .NET byte[] or a JS Uint8Array.
struct binary {
    std::vector<std::uint8_t> bytes;

    friend bool operator==(const binary&, const binary&) = default;
};

// A point in time with nanosecond precision over the whole MessagePack timestamp range, e.g. a
// .NET DateTime or a JS Date.
struct timestamp {
    std::int64_t seconds = 0;       // since 1970-01-01T00:00:00Z, may be negative
    std::uint32_t nanoseconds = 0;  // [0, 999999999], always forward in time

    static timestamp from_time_point(std::chrono::sys_time<std::chrono::nanoseconds> time) noexcept;
    // Saturates outside the years 1677..2262, which nanosecond time points cannot express.
    [[nodiscard]] std::chrono::sys_time<std::chrono::nanoseconds> to_time_point() const noexcept;

    friend bool operator==(const timestamp&, const timestamp&) = default;
    friend auto operator<=>(const timestamp&, const timestamp&) = default;
};

hub_value make_binary(std::span<const std::uint8_t> bytes);
hub_value make_binary(std::string_view bytes);
// The bytes of a tagged binary value, or nullptr for any other value.
const boost::json::string* as_binary(const hub_value& value) noexcept;

// Nanoseconds of a second or more carry into the seconds.
hub_value make_timestamp(std::int64_t seconds, std::uint32_t nanoseconds);
hub_value make_timestamp(timestamp time);
std::optional<timestamp> as_timestamp(const hub_value& value) noexcept;

// The cheap test writers make before looking for a tag: one member whose key starts with NUL.
inline bool may_be_tagged(const boost::json::object& object) noexcept {
    if (object.size() != 1) {
        return false;
    }
    const auto key = object.begin()->key();
    return !key.empty() && key.front() == '\0';
}

// ISO-8601 in UTC: "2002-04-01T10:20:15Z", with the fraction only when nanoseconds are not 0
// and without its trailing zeros ("...15.5Z", "...15.1234567Z", "...15.000000001Z"), as
// System.Text.Json writes a DateTime. Years outside 0000..9999 use the expanded form of JS
// Date.toISOString: a sign and at least six digits ("+275760-09-13T00:00:00Z").
void append_iso8601(timestamp time, std::string& out);
// Reads "YYYY-MM-DD", optionally followed by "THH:MM:SS", an optional fraction of any length
// (digits after the ninth are dropped) and an optional zone: "Z", "+HH:MM" or "-HH:MM"; no zone
// means UTC. The year may also be the expanded "+YYYYYY" / "-YYYYYY" form.
std::optional<timestamp> parse_iso8601(std::string_view text) noexcept;

// boost::json conversions, so hub methods can take and return these types. value_from gives the
// tagged value; value_to accepts the tagged value and the JSON protocol's form as well (a base64
// string, an ISO-8601 string), as a hub method must bind either.
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& value, const binary& data);
boost::json::result<binary> tag_invoke(const boost::json::try_value_to_tag<binary>&,
                                       const boost::json::value& value);
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& value, timestamp time);
boost::json::result<timestamp> tag_invoke(const boost::json::try_value_to_tag<timestamp>&,
                                          const boost::json::value& value);

}  // namespace switchboard::protocol
