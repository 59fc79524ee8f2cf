// libFuzzer target for the NOTIFY payloads the PostgreSQL backplane receives: any text on a
// channel it listens to (another application may NOTIFY there). Decoding never crashes, what
// decodes re-encodes to the same payload, and any bytes survive an inline round trip.
#include "routing/postgres/notify_payload.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

namespace {

using namespace switchboard::routing::postgres;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "notify payload broke: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (const auto decoded = decode_notify(input)) {
        if (const auto* inline_bytes = std::get_if<inline_payload>(&*decoded)) {
            std::string again;
            encode_inline(1, inline_bytes->bytes, again);
            const auto twice = decode_notify(again);
            if (!twice || std::get<inline_payload>(*twice).bytes != inline_bytes->bytes) {
                fail("inline payload does not round-trip");
            }
        } else if (std::get<payload_reference>(*decoded).row_id <= 0) {
            fail("a reference to a row id <= 0");
        }
    }
    // The input as a payload: any bytes, any sequence number.
    if (size <= max_inline_bytes()) {
        std::string text;
        encode_inline(size * 2654435761u, input, text);
        if (text.size() >= 8000) {
            fail("an inline payload over the NOTIFY limit");
        }
        const auto back = decode_notify(text);
        if (!back || !std::holds_alternative<inline_payload>(*back) ||
            std::get<inline_payload>(*back).bytes != input) {
            fail("bytes do not round-trip inline");
        }
    }
    return 0;
}
