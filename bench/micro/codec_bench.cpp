// Micro-benchmarks of the hub protocol codecs: a typical chat invocation (a 100-byte text) in
// JSON and MessagePack, and the handshake every connection starts with.
#include "protocol/binary_framing.hpp"
#include "protocol/handshake.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"

#include <benchmark/benchmark.h>

#include <boost/json/array.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::protocol {
namespace {

// A chat line as people type it: 100 bytes of text.
const std::string text(100, 'x');

// What the server sends for a broadcast: ReceiveMessage(user, text), no invocation id.
const boost::json::array broadcast_arguments{"alice", text};

// What a client sends: SendMessage(text) with an invocation id (the JS client's invoke()).
invocation_message client_invocation() {
    invocation_message message;
    message.invocation_id = "42";
    message.target = "SendMessage";
    message.arguments.emplace_back(text);
    return message;
}

void json_encode_invocation(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        write_json_invocation("ReceiveMessage", broadcast_arguments, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(json_encode_invocation);

void json_decode_invocation(benchmark::State& state) {
    std::string record;
    write_json_message(client_invocation(), record);
    record.pop_back();  // the parser takes one record without its separator
    for (auto _ : state) {
        auto message = parse_json_message(record);
        benchmark::DoNotOptimize(message);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * record.size()));
}
BENCHMARK(json_decode_invocation);

void messagepack_encode_invocation(benchmark::State& state) {
    std::string out;
    for (auto _ : state) {
        out.clear();
        write_messagepack_invocation("ReceiveMessage", broadcast_arguments, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(messagepack_encode_invocation);

void messagepack_decode_invocation(benchmark::State& state) {
    std::string framed;
    write_messagepack_message(client_invocation(), framed);
    // The parser takes the body that binary_frame_reader yields, without the varint prefix.
    binary_frame_reader reader(framed.size());
    reader.append(framed);
    std::string_view view;
    if (reader.next(view) != binary_frame_reader::status::record) {
        state.SkipWithError("the encoded invocation does not frame");
        return;
    }
    const std::string body(view);
    for (auto _ : state) {
        auto message = parse_messagepack_message(body);
        benchmark::DoNotOptimize(message);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(messagepack_decode_invocation);

void handshake_parse(benchmark::State& state) {
    const std::string_view record = R"({"protocol":"messagepack","version":1})";
    for (auto _ : state) {
        auto request = parse_handshake_request(record);
        benchmark::DoNotOptimize(request);
    }
}
BENCHMARK(handshake_parse);

}  // namespace
}  // namespace switchboard::protocol
