// libFuzzer target for the RESP2 framing the Redis client applies to whatever arrives on its
// sockets: a size must be a complete reply (no shorter prefix is one, nothing after it counts),
// and what is read in place must lie inside it.
#include "routing/redis/resp.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using namespace switchboard::routing::redis;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "framing broke: %s\n", what);
    std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto extent = resp::reply_size(input);
    if (!extent || *extent == 0) {
        return 0;
    }
    if (*extent > input.size()) {
        fail("size beyond the input");
    }
    const auto reply = input.substr(0, *extent);
    if (resp::reply_size(reply) != *extent) {
        fail("the reply alone sizes differently");
    }
    // Every cut is incomplete (bounded: the check is quadratic).
    if (reply.size() <= 512) {
        for (std::size_t cut = 0; cut < reply.size(); ++cut) {
            if (resp::reply_size(reply.substr(0, cut)) != 0) {
                fail("a prefix passed for a whole reply");
            }
        }
    }
    (void)resp::integer_reply(reply);
    if (const auto message = resp::message_reply(reply)) {
        if (!inside(message->channel, reply) || !inside(message->payload, reply)) {
            fail("a message view outside its reply");
        }
    }
    return 0;
}
