// libFuzzer target for the text protocol: record framing, the handshake and JSON hub messages.
#include "protocol/handshake.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace switchboard::protocol;

constexpr std::size_t max_message_size = 32 * 1024;

[[noreturn]] void fail(const char* what, std::string_view detail) {
    std::fprintf(stderr, "%s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
    std::abort();
}

// Framing must not depend on how the stream was cut, so the records of one whole append are
// compared with those of many small ones.
std::vector<std::string> frame(std::string_view input, std::size_t chunk, bool& too_large) {
    text_frame_reader reader(max_message_size);
    std::vector<std::string> records;
    too_large = false;
    std::string_view record;
    for (std::size_t offset = 0; offset < input.size() && !too_large; offset += chunk) {
        reader.append(input.substr(offset, chunk));
        text_frame_reader::status status;
        while ((status = reader.next(record)) == text_frame_reader::status::record) {
            records.emplace_back(record);
        }
        too_large = status == text_frame_reader::status::too_large;
    }
    return records;
}

void check_record(std::string_view record) {
    std::string response;
    const auto handshake = parse_handshake_request(record);
    write_handshake_response(
        handshake ? std::nullopt : std::optional<std::string_view>(handshake.error_message()),
        response);
    if (response.find(record_separator) != response.size() - 1) {
        fail("handshake response holds a separator", response);
    }

    const auto message = parse_json_message(record);
    if (!message) {
        return;
    }
    std::string written;
    write_json_message(*message, written);
    // Strings escape 0x1E, so the only separator is the final one.
    if (written.find(record_separator) != written.size() - 1) {
        fail("written message holds a separator", written);
    }
    const auto body = std::string_view(written).substr(0, written.size() - 1);
    const auto reparsed = parse_json_message(body);
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
    // After one normalisation (number formats, dropped unknown properties) writing is stable.
    std::string again;
    write_json_message(*reparsed, again);
    if (again != written) {
        fail("second write differs", again);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    bool whole_too_large = false;
    const auto records = frame(input, input.size() == 0 ? 1 : input.size(), whole_too_large);
    bool chunked_too_large = false;
    const auto chunked = frame(input, 1 + size % 13, chunked_too_large);
    if (records != chunked || whole_too_large != chunked_too_large) {
        fail("framing depends on chunking", input.substr(0, 256));
    }

    for (const auto& record : records) {
        check_record(record);
    }
    return 0;
}
