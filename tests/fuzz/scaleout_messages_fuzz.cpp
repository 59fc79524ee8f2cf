// libFuzzer target for what another server may publish into Redis: the four backplane payload
// decoders and the channel-name parser. Whatever decodes must re-encode to something that
// decodes to the same value (the encoders write the canonical .NET form).
#include "routing/scaleout/channels.hpp"
#include "routing/scaleout/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchboard::routing::scaleout;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "round trip broke: %s\n", what);
    std::abort();
}

bool same(const invocation& a, const invocation& b) {
    if (a.excluded_connection_ids != b.excluded_connection_ids ||
        a.payloads.size() != b.payloads.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.payloads.size(); ++i) {
        if (a.payloads[i].protocol != b.payloads[i].protocol ||
            *a.payloads[i].bytes != *b.payloads[i].bytes) {
            return false;
        }
    }
    // The 4-item form round-trips its two optional strings (nil stays absent).
    return a.invocation_id == b.invocation_id && a.return_channel == b.return_channel;
}

void check_channels(std::string_view input) {
    const channels names("prefix:", "My.Hub");
    const auto parsed = names.parse(input);
    if (!parsed) {
        return;
    }
    std::string rebuilt;
    switch (parsed->kind) {
    case channel_kind::all:
        rebuilt = names.all();
        break;
    case channel_kind::connection:
        rebuilt = names.connection(parsed->id);
        break;
    case channel_kind::user:
        rebuilt = names.user(parsed->id);
        break;
    case channel_kind::group:
        rebuilt = names.group(parsed->id);
        break;
    case channel_kind::internal_groups:
        rebuilt = names.internal_groups();
        break;
    case channel_kind::internal_ack:
        rebuilt = names.internal_ack(parsed->id);
        break;
    case channel_kind::internal_return:
        rebuilt = names.internal_return(parsed->id);
        break;
    }
    if (rebuilt != input) {
        fail("channel name");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto invocation = decode_invocation(input)) {
        const auto again = decode_invocation(encode_invocation(*invocation));
        if (!again || !same(*invocation, *again)) {
            fail("invocation");
        }
    }
    if (auto command = decode_group_command(input)) {
        const auto again = decode_group_command(encode_group_command(*command));
        if (!again || !(*again == *command)) {
            fail("group command");
        }
    }
    if (auto ack = decode_ack(input)) {
        const auto again = decode_ack(encode_ack(*ack));
        if (!again || *again != *ack) {
            fail("ack");
        }
    }
    if (auto completion = decode_completion(input)) {
        const auto again =
            decode_completion(encode_completion(completion->protocol, *completion->bytes));
        if (!again || again->protocol != completion->protocol ||
            *again->bytes != *completion->bytes) {
            fail("completion");
        }
    }
    check_channels(input);
    return 0;
}
