// The bytes of event streams: SSE events, comments and resets as subscribers receive them, and
// the bus payload `{"channel","type","data","origin","id"}` other instances exchange.
#pragma once

#include "core/expected.hpp"
#include "events/event_id.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace switchboard::events {

// Sent once at the start: EventSource waits 3 s before reconnecting (its usual default, made
// explicit so every browser behaves alike).
inline constexpr std::string_view retry_preamble = "retry: 3000\n\n";
// Under the 60 s idle timeout of common proxies (nginx, AWS ALB) with the 15 s default.
inline constexpr std::string_view keep_alive_comment = ": keep-alive\n\n";

// `id: <id>\nevent: <type>\ndata: {"channel":<channel>,"data":<data>}\n\n`; `data_json` is
// serialized JSON, which holds no raw newline, so the event is a single data line.
std::string format_sse_event(event_id id, std::string_view type, std::string_view channel,
                             std::string_view data_json);
// `event: <name>\ndata: {"channel":<channel>,"data":<data>}\n\n`: a channel's initial state
// from upstream, without an id (it is not in the channel's sequence).
std::string format_snapshot_event(std::string_view name, std::string_view channel,
                                  std::string_view data_json);
// `event: reset\ndata: {"channel":<channel>,"reason":"history"}\n\n` (no id: the client keeps
// its last one).
std::string format_reset_event(std::string_view channel);

// One published event as it crosses the bus.
struct bus_event {
    std::string channel;
    std::string type;
    std::string data_json;  // serialized JSON value
    event_id id;
};

// The bytes of encode_bus_event around the data and the id: `before_data` D `after_data` id
// bus_event_tail, i.e. `{"channel":C,"type":T,"data":` D `,"origin":O,"id":"` id `"}` (no
// origin field when O is empty). For a store that learns the id only as it publishes
// (history_store.hpp), and is sent the data once.
struct bus_event_frame {
    std::string before_data;
    std::string after_data;
};
bus_event_frame frame_bus_event(std::string_view channel, std::string_view type,
                                std::string_view origin);
inline constexpr std::string_view bus_event_tail = "\"}";
std::string encode_bus_event(std::string_view channel, std::string_view type,
                             std::string_view data_json, event_id id, std::string_view origin = {});
// Validates every field (names, id); never throws. Ignores the origin.
expected<bus_event> decode_bus_event(std::string_view payload);
// True when `payload` ends as encode_bus_event ends it for `origin` (not empty): the
// registry's own event back from the bus, dropped before it is parsed.
bool is_bus_event_from(std::string_view payload, std::string_view origin);

}  // namespace switchboard::events
