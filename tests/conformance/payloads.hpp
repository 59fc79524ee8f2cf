// The objects TestHub exchanges with the clients, and how they look on the wire.
//
// The hub API binds arguments and results with Boost.JSON conversions (value_to/value_from),
// so each type here has a pair of tag_invoke overloads. Property names are PascalCase, as the
// ASP.NET test server writes them (JSON PropertyNamingPolicy = null), and are matched
// case-insensitively on input, as System.Text.Json does for hubs.
//
// Bytes and dates use the protocol's binary and timestamp types: MessagePack carries them as
// bin and timestamp values, JSON as base64 and ISO-8601 strings, and both forms bind on input.
#pragma once

#include "protocol/hub_value.hpp"

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

// TestHub's CustomObject: { Name, Value }.
struct custom_object {
    std::string name;
    int value = 0;
};

// TestHub's ComplexObject: { String, IntArray, ByteArray, Guid, DateTime }.
struct complex_object {
    std::string string;
    std::vector<int> int_array;
    switchboard::protocol::binary byte_array;
    std::string guid = "00000000-0000-0000-0000-000000000000";  // a string in both protocols
    switchboard::protocol::timestamp date_time{};
};

void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const custom_object& in);
boost::system::result<custom_object> tag_invoke(boost::json::try_value_to_tag<custom_object>,
                                                const boost::json::value& in);

void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const complex_object& in);
boost::system::result<complex_object> tag_invoke(boost::json::try_value_to_tag<complex_object>,
                                                 const boost::json::value& in);

}  // namespace conformance
