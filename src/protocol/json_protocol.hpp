// The JSON hub protocol: hub messages to and from record-separated JSON text.
#pragma once

#include "core/expected.hpp"
#include "protocol/hub_message.hpp"

#include <string>
#include <string_view>

namespace switchboard::protocol {

// Parses one record (without the separator). Property order is free and unknown properties
// are ignored; errors carry the exact ASP.NET texts ("Missing required property 'type'.").
expected<hub_message> parse_json_message(std::string_view record);

// Appends the compact JSON of `message` followed by the record separator, in the property
// order the ASP.NET server writes.
void write_json_message(const hub_message& message, std::string& out);

// Appends a server-to-client invocation without an id: {"type":1,"target":..,"arguments":[..]}
// followed by the separator. The hot path of every broadcast: no hub_message is built.
void write_json_invocation(std::string_view target, const boost::json::array& arguments,
                           std::string& out);

}  // namespace switchboard::protocol
