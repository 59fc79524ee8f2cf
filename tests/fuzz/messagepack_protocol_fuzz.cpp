// libFuzzer target for the binary protocol: varint framing, MessagePack hub messages and the
// JSON rendering of the values they carry (binary and timestamp included).
#include "protocol/binary_framing.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace switchboard::protocol;

constexpr std::size_t max_message_size = 32 * 1024;

[[noreturn]] void fail(const char* what, std::string_view detail) {
    std::fprintf(stderr, "%s (%zu bytes):", what, detail.size());
    for (const char c : detail.substr(0, 512)) {
        std::fprintf(stderr, " %02x", static_cast<unsigned char>(c));
    }
    std::fprintf(stderr, "\n");
    std::abort();
}

// Framing must not depend on how the stream was cut, so the bodies of one whole append are
// compared with those of many small ones.
std::vector<std::string> frame(std::string_view input, std::size_t chunk,
                               binary_frame_reader::status& last) {
    binary_frame_reader reader(max_message_size);
    std::vector<std::string> records;
    last = binary_frame_reader::status::need_more;
    std::string_view record;
    for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
        reader.append(input.substr(offset, chunk));
        while ((last = reader.next(record)) == binary_frame_reader::status::record) {
            records.emplace_back(record);
        }
        if (last == binary_frame_reader::status::too_large ||
            last == binary_frame_reader::status::invalid) {
            break;
        }
    }
    return records;
}

// The body of a frame this library wrote: exactly one frame, nothing after it.
std::string_view unframe(std::string_view framed) {
    binary_frame_reader reader(max_binary_body_size);
    reader.append(framed);
    std::string_view body;
    if (reader.next(body) != binary_frame_reader::status::record || reader.buffered() != 0) {
        fail("written message is not one frame", framed);
    }
    // The reader's copy dies with it; the body is also the tail of `framed`.
    return framed.substr(framed.size() - body.size());
}

void check_json(const hub_message& message) {
    // Tagged values render as strings; whatever the bytes, only the final separator remains.
    std::string json;
    write_json_message(message, json);
    if (json.empty() || json.find(record_separator) != json.size() - 1) {
        fail("JSON output holds a separator", json);
    }
}

void check_body(std::string_view body) {
    const auto message = parse_messagepack_message(body);
    if (!message) {
        if (message.error_message().empty()) {
            fail("error without a message", body);
        }
        return;
    }
    check_json(*message);

    std::string written;
    write_messagepack_message(*message, written);
    const auto reparsed = parse_messagepack_message(unframe(written));
    if (!reparsed) {
        fail("written message does not parse", written);
    }
    if (reparsed->index() != message->index()) {
        fail("message type changed", written);
    }
    if (const auto* unknown = std::get_if<unknown_message>(&*message)) {
        if (std::get<unknown_message>(*reparsed).type != unknown->type) {
            fail("unknown type number changed", written);
        }
    }
    // After one normalisation (compact integers, float64, dropped items) writing is stable.
    std::string again;
    write_messagepack_message(*reparsed, again);
    if (again != written) {
        fail("second write differs", again);
    }
    if (const auto* invocation = std::get_if<invocation_message>(&*message);
        invocation != nullptr && !invocation->invocation_id && invocation->headers.empty() &&
        invocation->stream_ids.empty()) {
        std::string broadcast;
        write_messagepack_invocation(invocation->target, invocation->arguments, broadcast);
        if (broadcast != written) {
            fail("broadcast writer differs", broadcast);
        }
    }
}

// The input as one bare value, too: the value reader sees every byte pattern at the top level.
void check_value(std::string_view input) {
    const auto value = parse_messagepack_value(input);
    if (!value) {
        return;
    }
    std::string written;
    append_messagepack_value(*value, written);
    const auto reparsed = parse_messagepack_value(written);
    if (!reparsed) {
        fail("written value does not parse", written);
    }
    std::string again;
    append_messagepack_value(*reparsed, again);
    if (again != written) {
        fail("second value write differs", again);
    }
    check_json(stream_item_message{{}, "1", *value});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    binary_frame_reader::status whole_status;
    const auto records = frame(input, input.empty() ? 1 : input.size(), whole_status);
    binary_frame_reader::status chunked_status;
    const auto chunked = frame(input, 1 + size % 13, chunked_status);
    if (records != chunked || whole_status != chunked_status) {
        fail("framing depends on chunking", input);
    }

    for (const auto& record : records) {
        check_body(record);
    }
    if (size <= max_message_size) {
        check_value(input);
    }
    return 0;
}
