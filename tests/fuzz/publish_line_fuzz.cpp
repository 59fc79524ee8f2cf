// libFuzzer target for what a script pipes into `switchboard publish`: stdin lines and ARGUMENTS
// text. Whatever parses must pass the publisher's check and encode into an invocation the
// scale-out decoder reads back with the same exclusions and a json and messagepack payload.
#include "routing/publication_json.hpp"
#include "routing/publisher.hpp"
#include "routing/scaleout/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "publish line: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    using namespace switchboard::routing;
    (void)parse_arguments(input);
    const auto parsed = parse_publication_line(input, publication{});
    if (!parsed) {
        return 0;
    }
    if (!check_publication(*parsed)) {
        fail("a parsed line fails the check");
    }
    const auto encoded = encode_publication(*parsed, "P", "hub");
    if (parsed->to.type != recipients::kind::all &&
        encoded.channels.size() != parsed->to.names.size()) {
        fail("not one channel per recipient");
    }
    const auto decoded = scaleout::decode_invocation(encoded.payload);
    if (!decoded || decoded->excluded_connection_ids != parsed->to.excluded ||
        decoded->payload(wire_protocol::json) == nullptr ||
        decoded->payload(wire_protocol::messagepack) == nullptr) {
        fail("the encoded invocation does not decode to what was published");
    }
    return 0;
}
