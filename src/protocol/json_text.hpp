// Strict JSON reading and compact JSON writing shared by the hub protocol and the handshake.
#pragma once

#include "core/expected.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::protocol {

// Deeper input fails with "Error reading JSON." (the System.Text.Json default depth).
inline constexpr std::size_t max_json_depth = 64;

// Reads the first JSON text of `text`, which must be an object; bytes after it are ignored, as
// the ASP.NET readers stop at the end of the first object. Errors: "Error reading JSON." and
// "Unexpected JSON Token Type '<Null|True|False|Number|String|Array>'. Expected a JSON Object."
expected<boost::json::object> read_json_object(std::string_view text);

// The .NET token name of a value's kind as ASP.NET prints it: Null, True, False, Number,
// String, Array or Object.
std::string_view json_token_name(const boost::json::value& value) noexcept;

// Appends `text` as a quoted JSON string. Only '"', '\\' and control characters are escaped;
// other bytes pass through unchanged.
void append_json_string(std::string_view text, std::string& out);

// Appends compact JSON. Non-finite doubles, which JSON cannot express, become null (as in
// JSON.stringify) so that the output always parses.
void append_json_value(const boost::json::value& value, std::string& out);
void append_json_array(const boost::json::array& array, std::string& out);

}  // namespace switchboard::protocol
