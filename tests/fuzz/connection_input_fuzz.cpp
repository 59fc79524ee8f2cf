// libFuzzer target for the path every client byte takes (WebSocket frames, SSE and long-poll
// POST bodies): the handshake record, the protocol it picks, then that protocol's frames and
// messages, with the stream cut at fuzzer-chosen points.
#include "protocol/handshake.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/messagepack_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchboard::protocol;

// Small enough that the fuzzer reaches the too-large paths, large enough for real messages.
constexpr std::size_t max_message_size = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    // The first byte chooses the chunk size: the same stream must work however it is cut.
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    message_reader reader(max_message_size);
    bool messagepack = false;
    std::string written;
    for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
        reader.append(input.substr(offset, chunk));
        std::string_view record;
        while (true) {
            const auto status = reader.next(record);
            if (status == message_reader::status::need_more) {
                break;
            }
            if (status != message_reader::status::record) {
                return 0;  // too large or invalid: the server closes the connection here
            }
            if (record.size() > max_message_size) {
                std::abort();  // the reader must never hand out more than the limit
            }
            if (reader.current() == message_reader::framing::handshake) {
                auto handshake = parse_handshake_request(record);
                if (!handshake) {
                    return 0;
                }
                messagepack = handshake->protocol == "messagepack";
                reader.start(messagepack ? message_reader::framing::binary
                                         : message_reader::framing::text);
                continue;
            }
            auto message =
                messagepack ? parse_messagepack_message(record) : parse_json_message(record);
            if (!message) {
                return 0;  // a protocol error: the server closes with the message
            }
            written.clear();
            // What the server would send back must always be writable in both protocols.
            write_json_message(*message, written);
            write_messagepack_message(*message, written);
        }
    }
    return 0;
}
