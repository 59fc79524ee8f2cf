// libFuzzer target for what the event streams take from outside: bus payloads from any
// instance (or anyone who can publish on the bus), Last-Event-ID values, channel names and
// types, and the channel patterns matched against them.
#include "events/event_format.hpp"
#include "events/event_id.hpp"
#include "events/names.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchboard::events;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "events input fuzz: %s\n", what);
    std::abort();
}

void check_bus_payload(std::string_view payload) {
    (void)is_bus_event_from(payload, "origin");  // read backwards: must stay in bounds
    const auto decoded = decode_bus_event(payload);
    if (!decoded) {
        return;
    }
    if (!valid_channel(decoded->channel) || !valid_type(decoded->type)) {
        fail("a decoded event with an invalid channel or type");
    }
    // What we accept we can send on, and it reads back the same.
    const auto again = decode_bus_event(
        encode_bus_event(decoded->channel, decoded->type, decoded->data_json, decoded->id));
    if (!again || again->channel != decoded->channel || again->type != decoded->type ||
        again->data_json != decoded->data_json || !(again->id == decoded->id)) {
        fail("a bus event does not survive a round trip");
    }
    // An instance knows its own events, and only its own.
    const auto own = encode_bus_event(decoded->channel, decoded->type, decoded->data_json,
                                      decoded->id, "origin");
    if (!is_bus_event_from(own, "origin") || is_bus_event_from(own, "other")) {
        fail("an event's origin is not recognised");
    }
    const auto sse =
        format_sse_event(decoded->id, decoded->type, decoded->channel, decoded->data_json);
    // One event: its only blank line is the one that ends it.
    if (sse.find("\n\n") != sse.size() - 2) {
        fail("an SSE event with a line break inside");
    }
}

void check_event_id(std::string_view text) {
    const auto id = parse_event_id(text);
    if (!id) {
        return;
    }
    const auto formatted = format_event_id(*id);
    const auto again = parse_event_id(formatted);
    if (!again || !(*again == *id)) {
        fail("an event id does not survive a round trip");
    }
}

// "pattern\nchannel\nuser": matching never crashes and {user} never matches an anonymous
// caller where the pattern needs one.
void check_patterns(std::string_view input) {
    const auto first = input.find('\n');
    const auto second = first == std::string_view::npos ? first : input.find('\n', first + 1);
    if (second == std::string_view::npos) {
        return;
    }
    const std::string pattern(input.substr(0, first));
    const auto channel = input.substr(first + 1, second - first - 1);
    const auto user = input.substr(second + 1);
    const channel_patterns patterns({pattern});
    static_cast<void>(patterns.matches(channel, user));
    if (pattern.find("{user}") != std::string::npos && patterns.matches(channel, {})) {
        fail("{user} matched an anonymous caller");
    }
    static_cast<void>(valid_channel(channel));
    static_cast<void>(valid_type(channel));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_bus_payload(input);
    check_event_id(input);
    check_patterns(input);
    return 0;
}
