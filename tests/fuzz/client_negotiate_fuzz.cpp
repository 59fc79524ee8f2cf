// libFuzzer target for what a server (or whatever answers in its place) sends the client
// before and around a connection: negotiate bodies through parse_negotiate_response, and event
// streams through the SSE parser, which must find the same events however the input is split.
#include "client/transport/negotiate_client.hpp"
#include "client/transport/sse_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace switchboard::client::detail;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "client negotiate fuzz: %s\n", what);
    std::abort();
}

void check_negotiate(std::string_view body) {
    const auto parsed = parse_negotiate_response(body);
    if (!parsed) {
        if (parsed.error_message().empty() && body.find("\"error\"") == std::string_view::npos) {
            fail("an error without a message");  // only the server's own may be empty
        }
        return;
    }
    if (parsed->url) {
        return;  // a redirect carries nothing else
    }
    if (parsed->negotiate_version < 1 && parsed->connection_token != parsed->connection_id) {
        fail("below version 1 the token is the id");
    }
}

// A small limit, so that inputs reach it.
constexpr std::size_t max_event = 64;

struct outcome {
    std::vector<std::string> events;
    bool failed = false;
};

outcome parse_events(std::string_view first, std::string_view second) {
    sse_parser parser(max_event);
    outcome result;
    for (const auto part : {first, second}) {
        if (parser.feed(part, result.events)) {
            result.failed = true;
            break;
        }
    }
    for (const auto& event : result.events) {
        if (event.size() > max_event) {
            fail("an event over the limit");
        }
    }
    if (!result.failed && parser.buffered() > 2 * max_event + 16) {
        fail("the buffer grew past the limit");
    }
    return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_negotiate(input);

    if (input.empty()) {
        return 0;
    }
    // The first byte chooses where the rest is split in two reads.
    const std::string_view stream = input.substr(1);
    const std::size_t at =
        stream.empty() ? 0 : static_cast<unsigned char>(input[0]) % (stream.size() + 1);
    const auto whole = parse_events(stream, {});
    const auto split = parse_events(stream.substr(0, at), stream.substr(at));
    if (whole.failed != split.failed) {
        fail("the split changed whether the stream failed");
    }
    // A failing stream may stop at a different event depending on where the limit is seen.
    if (!whole.failed && whole.events != split.events) {
        fail("the split changed the events");
    }
    return 0;
}
