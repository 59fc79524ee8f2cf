// libFuzzer target for durable mode's session records, read back from the bus's store (Redis,
// PostgreSQL, JetStream) where anyone with access could have written anything: bad input is an
// error, never a crash; what decodes encodes back to a record that decodes equal; log ids always
// order consistently.
#include "routing/durable/session_record.hpp"
#include "routing/durable_log.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::routing;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (const auto record = durable::decode_record(input)) {
        const auto again = durable::decode_record(durable::encode_record(*record));
        if (!again || !(*again == *record)) {
            std::abort();
        }
    }
    const auto split = input.find('|');
    if (split != std::string_view::npos) {
        const auto a = input.substr(0, split);
        const auto b = input.substr(split + 1);
        if (compare_log_ids(a, b) != -compare_log_ids(b, a) || compare_log_ids(a, a) != 0) {
            std::abort();
        }
    }
    return 0;
}
