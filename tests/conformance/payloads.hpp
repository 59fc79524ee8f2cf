// The objects TestHub exchanges with the clients, and how they look on the wire.
//
// The hub API binds arguments and results with Boost.JSON conversions (value_to/value_from),
// so each type here has a pair of tag_invoke overloads. Property names are PascalCase, as the
// ASP.NET test server writes them (JSON PropertyNamingPolicy = null), and are matched
// case-insensitively on input, as System.Text.Json does for hubs.
//
// Bytes and dates have no JSON type: the JSON protocol carries them as a base64 string and an
// ISO-8601 string. Both choices live in two functions (bytes_to_wire / time_to_wire and their
// inverses) so that MessagePack's bin and timestamp forms can replace them in one place.
#pragma once

#include <boost/json/conversion.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conformance {

using bytes = std::vector<std::uint8_t>;
using timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

// Standard base64 with padding (what .NET writes for byte[]); decoding refuses anything else.
std::string encode_base64(const bytes& data);
std::optional<bytes> decode_base64(std::string_view text);

// "2002-04-01T10:20:15Z", with up to 7 fraction digits when not whole seconds (.NET's "O"
// format for UTC DateTime values). Parsing accepts "Z", "+hh:mm"/"-hh:mm" or no zone (UTC).
std::string format_iso8601(timestamp time);
std::optional<timestamp> parse_iso8601(std::string_view text);

// The wire forms of the two types JSON lacks.
boost::json::value bytes_to_wire(const bytes& data);
std::optional<bytes> bytes_from_wire(const boost::json::value& wire);
boost::json::value time_to_wire(timestamp time);
std::optional<timestamp> time_from_wire(const boost::json::value& wire);

// TestHub's CustomObject: { Name, Value }.
struct custom_object {
    std::string name;
    int value = 0;
};

// TestHub's ComplexObject: { String, IntArray, ByteArray, Guid, DateTime }.
struct complex_object {
    std::string string;
    std::vector<int> int_array;
    bytes byte_array;
    std::string guid = "00000000-0000-0000-0000-000000000000";  // a string in both protocols
    timestamp date_time{};
};

void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const custom_object& in);
boost::system::result<custom_object> tag_invoke(boost::json::try_value_to_tag<custom_object>,
                                                const boost::json::value& in);

void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const complex_object& in);
boost::system::result<complex_object> tag_invoke(boost::json::try_value_to_tag<complex_object>,
                                                 const boost::json::value& in);

}  // namespace conformance
