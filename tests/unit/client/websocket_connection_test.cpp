#include "client/websocket_connection.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard {
namespace {

using client::append_client_frame;
using client::handshake_response;
using client::parse_handshake_response;
using client::server_frame_reader;
using client::ws_opcode;

// A server frame: unmasked, `fin` as given; lengths use their shortest form.
std::string server_frame(ws_opcode op, std::string_view payload, bool fin = true) {
    std::string frame;
    frame.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(op)));
    if (payload.size() < 126) {
        frame.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() <= 0xffff) {
        frame.push_back(static_cast<char>(126));
        frame.push_back(static_cast<char>(payload.size() >> 8));
        frame.push_back(static_cast<char>(payload.size()));
    } else {
        frame.push_back(static_cast<char>(127));
        for (int i = 7; i >= 0; --i) {
            frame.push_back(
                static_cast<char>(static_cast<std::uint64_t>(payload.size()) >> (8 * i)));
        }
    }
    frame.append(payload);
    return frame;
}

struct recorder : server_frame_reader::handler {
    std::vector<std::string> messages;
    std::vector<bool> text;
    std::vector<std::string> pings;
    std::optional<std::pair<std::uint16_t, std::string>> closed;
    bool stop_after_first = false;

    bool on_message(std::string_view payload, bool is_text) override {
        messages.emplace_back(payload);
        text.push_back(is_text);
        return !stop_after_first;
    }
    void on_ping(std::string_view payload) override { pings.emplace_back(payload); }
    void on_close(std::uint16_t code, std::string_view reason) override {
        closed.emplace(code, std::string(reason));
    }
};

// Feeds `bytes` in two reads split at `at`; the error, if any.
std::optional<std::string> feed_split(server_frame_reader& reader, recorder& events,
                                      std::string_view bytes, std::size_t at) {
    // Each read comes from a buffer of its own, as from the socket.
    const std::string first(bytes.substr(0, at));
    const std::string second(bytes.substr(at));
    if (auto error = reader.feed(first, events)) {
        return std::string(*error);
    }
    if (auto error = reader.feed(second, events)) {
        return std::string(*error);
    }
    return std::nullopt;
}

TEST(server_frame_reader, parses_frames_split_at_every_offset) {
    const std::string big(70'000, 'x');  // a 64-bit length
    const std::string medium(300, 'm');  // a 16-bit length
    const std::string stream =
        server_frame(ws_opcode::text, "hello") + server_frame(ws_opcode::binary, medium) +
        server_frame(ws_opcode::ping, "p") + server_frame(ws_opcode::text, "frag", false) +
        server_frame(ws_opcode::pong, "") + server_frame(ws_opcode::continuation, "men", false) +
        server_frame(ws_opcode::continuation, "ted") + server_frame(ws_opcode::text, big) +
        server_frame(ws_opcode::text, "");
    for (std::size_t at = 0; at <= stream.size(); at += at < 400 ? 1 : 997) {
        server_frame_reader reader(1024 * 1024);
        recorder events;
        ASSERT_FALSE(feed_split(reader, events, stream, at)) << at;
        ASSERT_EQ(events.messages.size(), 5u) << at;
        EXPECT_EQ(events.messages[0], "hello");
        EXPECT_TRUE(events.text[0]);
        EXPECT_EQ(events.messages[1], medium);
        EXPECT_FALSE(events.text[1]);
        EXPECT_EQ(events.messages[2], "fragmented");
        EXPECT_TRUE(events.text[2]);
        EXPECT_EQ(events.messages[3], big);
        EXPECT_EQ(events.messages[4], "");
        EXPECT_EQ(events.pings, std::vector<std::string>{"p"});
        EXPECT_EQ(reader.buffered(), 0u) << at;
    }
}

TEST(server_frame_reader, takes_one_byte_per_read) {
    const std::string stream =
        server_frame(ws_opcode::text, std::string(200, 'a')) + server_frame(ws_opcode::text, "b");
    server_frame_reader reader(1024);
    recorder events;
    for (const char c : stream) {
        ASSERT_FALSE(reader.feed(std::string(1, c), events));
    }
    ASSERT_EQ(events.messages.size(), 2u);
    EXPECT_EQ(events.messages[0], std::string(200, 'a'));
    EXPECT_EQ(events.messages[1], "b");
}

TEST(server_frame_reader, reports_close_code_and_reason_and_stops) {
    std::string payload = "\x03\xe9going away";  // 1001
    const std::string stream =
        server_frame(ws_opcode::close, payload) + server_frame(ws_opcode::text, "after");
    for (std::size_t at = 0; at <= stream.size(); ++at) {
        server_frame_reader reader(1024);
        recorder events;
        ASSERT_FALSE(feed_split(reader, events, stream, at));
        ASSERT_TRUE(events.closed) << at;
        EXPECT_EQ(events.closed->first, 1001);
        EXPECT_EQ(events.closed->second, "going away");
        EXPECT_TRUE(events.messages.empty());
    }
    server_frame_reader reader(1024);
    recorder events;
    ASSERT_FALSE(reader.feed(server_frame(ws_opcode::close, ""), events));
    ASSERT_TRUE(events.closed);
    EXPECT_EQ(events.closed->first, 0);
}

TEST(server_frame_reader, refuses_oversized_messages_before_buffering_them) {
    server_frame_reader reader(100);
    recorder events;
    const auto frame = server_frame(ws_opcode::text, std::string(101, 'x'));
    // The header alone is enough to refuse it.
    const auto error = reader.feed(std::string_view(frame).substr(0, 4), events);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("size limit"), std::string_view::npos);
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_FALSE(reader.feed("more", events));  // ignored after the error

    server_frame_reader exact(100);
    ASSERT_FALSE(exact.feed(server_frame(ws_opcode::text, std::string(100, 'x')), events));
    EXPECT_EQ(events.messages.size(), 1u);

    // Fragments add up to the limit too.
    server_frame_reader fragments(100);
    const auto stream = server_frame(ws_opcode::text, std::string(60, 'a'), false) +
                        server_frame(ws_opcode::continuation, std::string(60, 'b'));
    EXPECT_TRUE(fragments.feed(stream, events));
}

TEST(server_frame_reader, fails_on_protocol_errors) {
    const auto error_of = [](std::string bytes) {
        server_frame_reader reader(1024);
        recorder events;
        const auto error = reader.feed(bytes, events);
        return error ? std::string(*error) : std::string();
    };
    auto masked = server_frame(ws_opcode::text, "");
    masked[1] = static_cast<char>(0x80);
    masked.append(4, '\0');
    EXPECT_NE(error_of(masked).find("masked"), std::string::npos);
    EXPECT_NE(error_of(std::string("\xc1\x00", 2)).find("reserved"), std::string::npos);  // RSV1
    EXPECT_NE(error_of(std::string("\x83\x00", 2)).find("opcode"), std::string::npos);
    EXPECT_NE(error_of(server_frame(ws_opcode::ping, "x", false)).find("control"),
              std::string::npos);
    EXPECT_NE(error_of(server_frame(ws_opcode::ping, std::string(126, 'x'))).find("control"),
              std::string::npos);
    EXPECT_NE(error_of(server_frame(ws_opcode::continuation, "x")).find("continuation"),
              std::string::npos);
    EXPECT_NE(
        error_of(server_frame(ws_opcode::text, "a", false) + server_frame(ws_opcode::text, "b"))
            .find("fragmented"),
        std::string::npos);
    EXPECT_NE(error_of(server_frame(ws_opcode::close, "x")).find("1-byte"), std::string::npos);
}

TEST(server_frame_reader, stops_when_the_handler_says_so) {
    server_frame_reader reader(1024);
    recorder events;
    events.stop_after_first = true;
    EXPECT_FALSE(reader.feed(
        server_frame(ws_opcode::text, "a") + server_frame(ws_opcode::text, "b"), events));
    EXPECT_EQ(events.messages, std::vector<std::string>{"a"});
}

TEST(client_frame, is_masked_with_a_zero_key) {
    std::string out = "before";
    append_client_frame(ws_opcode::text, "hi", out);
    EXPECT_EQ(out, std::string("before\x81\x82\0\0\0\0hi", 14));

    out.clear();
    append_client_frame(ws_opcode::binary, std::string(300, 'z'), out);
    ASSERT_EQ(out.size(), 4u + 4u + 300u);
    EXPECT_EQ(static_cast<std::uint8_t>(out[0]), 0x82);
    EXPECT_EQ(static_cast<std::uint8_t>(out[1]), 0x80 | 126);
    EXPECT_EQ(static_cast<std::uint8_t>(out[2]), 300 >> 8);
    EXPECT_EQ(static_cast<std::uint8_t>(out[3]), 300 & 0xff);
    EXPECT_EQ(out.substr(4, 4), std::string(4, '\0'));
    EXPECT_EQ(out.substr(8), std::string(300, 'z'));

    out.clear();
    append_client_frame(ws_opcode::pong, "", out);
    EXPECT_EQ(out, std::string("\x8a\x80\0\0\0\0", 6));
}

// The example of RFC 6455 1.3.
constexpr std::string_view accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

TEST(handshake_response, accepts_a_101_and_keeps_what_follows) {
    const std::string head =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "upgrade: WebSocket\r\n"
        "Connection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n"
        "\r\n";
    const std::string frames = server_frame(ws_opcode::text, R"(0{"sid":"x"})");
    const auto bytes = head + frames;
    const auto response = parse_handshake_response(bytes, accept);
    ASSERT_EQ(response.result, handshake_response::status::accepted) << response.error;
    EXPECT_EQ(response.head_size, head.size());
    EXPECT_EQ(bytes.substr(response.head_size), frames);

    // Any prefix of the head is not enough yet.
    for (std::size_t size = 0; size < head.size(); ++size) {
        EXPECT_EQ(parse_handshake_response(bytes.substr(0, size), accept).result,
                  handshake_response::status::incomplete)
            << size;
    }
}

TEST(handshake_response, refuses_other_statuses_and_wrong_keys) {
    const auto refused =
        parse_handshake_response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", accept);
    EXPECT_EQ(refused.result, handshake_response::status::refused);
    EXPECT_NE(refused.error.find("404 Not Found"), std::string::npos);

    const auto wrong_key = parse_handshake_response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        accept);
    EXPECT_EQ(wrong_key.result, handshake_response::status::refused);
    EXPECT_NE(wrong_key.error.find("Accept"), std::string::npos);

    const auto no_upgrade = parse_handshake_response(
        "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " + std::string(accept) +
            "\r\n\r\n",
        accept);
    EXPECT_EQ(no_upgrade.result, handshake_response::status::refused);
}

}  // namespace
}  // namespace switchboard
