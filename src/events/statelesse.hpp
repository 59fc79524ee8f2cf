// The StateleSSE.Backplane.Redis envelope (`{"GroupId","Payload","PublishedAt"}` on one bus
// channel `{prefix}:events`) and how its events are named on Switchboard's streams.
#pragma once

#include "core/expected.hpp"
#include "events/events_options.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::events {

// StateleSSE's PublishToAll: every local group.
inline constexpr std::string_view statelesse_all_groups = "*";

// What Switchboard adds to the envelopes it publishes, as the extra property `"Switchboard"`
// (System.Text.Json ignores unknown properties, so StateleSSE servers never see it).
struct statelesse_origin {
    // The publishing deployment's --channel-prefix: instances with the same prefix also got the
    // event on its native bus channel and ignore the envelope.
    std::string prefix;
    std::string type;
    std::string id;  // the event id at the publisher, informational
};

struct statelesse_envelope {
    std::string group_id;  // a valid channel name, or "*"
    std::string payload_json;
    std::optional<std::string> published_at;  // as sent; not interpreted
    std::optional<statelesse_origin> origin;  // set when a Switchboard published it
};

// `{"Switchboard":{...},"GroupId":..,"Payload":..,"PublishedAt":..}`; the origin (when given)
// comes first so receivers recognise their own deployment's envelopes by a byte prefix
// (statelesse_origin_head) without parsing them.
std::string encode_statelesse_envelope(std::string_view group_id, std::string_view payload_json,
                                       std::string_view published_at,
                                       const statelesse_origin* origin = nullptr);
// The bytes every envelope published by a deployment with channel prefix `prefix` starts with.
std::string statelesse_origin_head(std::string_view prefix);
// Tolerates any property order, extra properties, a missing or odd PublishedAt and property
// names in another case (System.Text.Json options vary); GroupId must be "*" or a valid
// channel and Payload present. Never throws.
expected<statelesse_envelope> decode_statelesse_envelope(std::string_view payload);

// The SSE event name of an envelope delivered on `group_id` (docs/events.md): with
// `last_segment`, the part after the last ':' when it looks like a .NET type name (an ASCII
// capital, then letters, digits or '_'), else "message"; with `message`, always "message".
std::string statelesse_event_name(std::string_view group_id, statelesse_type_rule rule);

// DateTime.UtcNow as System.Text.Json writes it: `2026-01-15T10:20:30.1234567Z` (7 digits).
std::string format_dotnet_utc(std::chrono::system_clock::time_point when);

}  // namespace switchboard::events
