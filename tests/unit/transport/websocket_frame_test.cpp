#include "transport/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace switchboard::transport::websocket {
namespace {

// What the parser handed out, with data from any number of frames joined.
struct recorder : frame_handler {
    std::string data;
    std::vector<std::pair<opcode, std::string>> controls;
    void on_data(std::string_view bytes) override {
        EXPECT_FALSE(bytes.empty());
        data.append(bytes);
    }
    void on_control(opcode op, std::string_view payload) override {
        controls.emplace_back(op, std::string(payload));
    }
};

// A client frame: masked with `mask`, the length in its shortest form.
std::string client_frame(std::uint8_t first_byte, std::string_view payload,
                         std::array<std::uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d}) {
    std::string frame(1, static_cast<char>(first_byte));
    if (payload.size() < 126) {
        frame.push_back(static_cast<char>(0x80 | payload.size()));
    } else if (payload.size() <= 0xffff) {
        frame.push_back(static_cast<char>(0x80 | 126));
        frame.push_back(static_cast<char>(payload.size() >> 8));
        frame.push_back(static_cast<char>(payload.size()));
    } else {
        frame.push_back(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8) {
            frame.push_back(static_cast<char>(static_cast<std::uint64_t>(payload.size()) >> shift));
        }
    }
    frame.append(reinterpret_cast<const char*>(mask.data()), mask.size());
    for (std::size_t i = 0; i < payload.size(); ++i) {
        frame.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ mask[i % 4]));
    }
    return frame;
}

std::optional<frame_error> parse_all(frame_parser& parser, std::string bytes, recorder& out) {
    return parser.parse(std::span<char>(bytes.data(), bytes.size()), out);
}

TEST(websocket_frame, the_rfc_example_of_a_masked_text_frame_reads_hello) {
    // RFC 6455 5.7: a single-frame masked text message containing "Hello".
    const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    frame_parser parser;
    recorder out;
    EXPECT_FALSE(parse_all(parser, frame, out));
    EXPECT_EQ(out.data, "Hello");
}

TEST(websocket_frame, any_split_of_the_input_gives_the_same_bytes) {
    const std::string payload(70'000, 'x');
    std::string stream =
        client_frame(0x01, "{\"a\":1}\x1e") +                 // text, first part
        client_frame(0x89, "ping!") +                         // ping in between
        client_frame(0x80, std::string(300, 'y') + "\x1e") +  // continuation, 16-bit length
        client_frame(0x82, payload);                          // binary, 64-bit length
    for (const std::size_t chunk : {1UL, 2UL, 3UL, 7UL, 13UL, 4096UL, stream.size()}) {
        frame_parser parser;
        recorder out;
        std::string copy = stream;
        for (std::size_t at = 0; at < copy.size(); at += chunk) {
            const auto size = std::min(chunk, copy.size() - at);
            ASSERT_FALSE(parser.parse(std::span<char>(copy.data() + at, size), out)) << chunk;
        }
        EXPECT_EQ(out.data, "{\"a\":1}\x1e" + std::string(300, 'y') + "\x1e" + payload) << chunk;
        ASSERT_EQ(out.controls.size(), 1U);
        EXPECT_EQ(out.controls[0].first, opcode::ping);
        EXPECT_EQ(out.controls[0].second, "ping!");
    }
}

TEST(websocket_frame, a_close_frame_ends_parsing_and_hands_out_code_and_reason) {
    frame_parser parser;
    recorder out;
    EXPECT_FALSE(parse_all(parser,
                           client_frame(0x88,
                                        "\x03\xe8"
                                        "bye") +
                               client_frame(0x81, "late"),
                           out));
    ASSERT_EQ(out.controls.size(), 1U);
    EXPECT_EQ(out.controls[0].second,
              "\x03\xe8"
              "bye");
    EXPECT_TRUE(parser.close_received());
    EXPECT_TRUE(out.data.empty());
}

TEST(websocket_frame, protocol_violations_fail_with_1002) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"unmasked", std::string("\x81\x02hi", 4)},
        {"reserved bit", client_frame(0xc1, "hi")},
        {"unknown opcode", client_frame(0x83, "hi")},
        {"fragmented ping", client_frame(0x09, "hi")},
        {"oversized ping", client_frame(0x89, std::string(126, 'p'))},
        {"continuation first", client_frame(0x80, "hi")},
        {"text inside a message", client_frame(0x01, "a") + client_frame(0x81, "b")},
        {"one-byte close", client_frame(0x88, "x")},
        {"reserved close code", client_frame(0x88, "\x03\xed")},  // 1005
        {"non-minimal length", std::string("\x81\xfe\x00\x05\x00\x00\x00\x00hello", 13)},
    };
    for (const auto& [name, bytes] : cases) {
        frame_parser parser;
        recorder out;
        const auto error = parse_all(parser, bytes, out);
        ASSERT_TRUE(error) << name;
        EXPECT_EQ(error->code, close_code::protocol_error) << name;
        EXPECT_FALSE(error->reason.empty()) << name;
        EXPECT_FALSE(parser.close_received()) << name;
    }
}

TEST(websocket_frame, invalid_utf8_in_text_fails_with_1007_even_across_frames) {
    {
        frame_parser parser;
        recorder out;
        const auto error = parse_all(parser, client_frame(0x81, "\xc3\x28"), out);
        ASSERT_TRUE(error);
        EXPECT_EQ(error->code, close_code::invalid_payload);
    }
    {
        // A character split between two frames is fine; one left open at the end is not.
        frame_parser parser;
        recorder out;
        EXPECT_FALSE(
            parse_all(parser, client_frame(0x01, "caf\xc3") + client_frame(0x80, "\xa9"), out));
        EXPECT_EQ(out.data, "caf\xc3\xa9");
        const auto error = parse_all(parser, client_frame(0x81, "x\xe2\x82"), out);
        ASSERT_TRUE(error);
        EXPECT_EQ(error->code, close_code::invalid_payload);
    }
    {
        // Binary frames carry any bytes.
        frame_parser parser;
        recorder out;
        EXPECT_FALSE(parse_all(parser, client_frame(0x82, "\xff\xfe"), out));
    }
}

TEST(websocket_frame, server_headers_use_the_shortest_length) {
    frame_header header{};
    ASSERT_EQ(write_frame_header(opcode::text, 5, header), 2U);
    EXPECT_EQ(std::string(header.data(), 2), "\x81\x05");
    ASSERT_EQ(write_frame_header(opcode::binary, 300, header), 4U);
    EXPECT_EQ(std::string(header.data(), 4), std::string("\x82\x7e\x01\x2c", 4));
    ASSERT_EQ(write_frame_header(opcode::text, 70'000, header), 10U);
    EXPECT_EQ(std::string(header.data(), 10), std::string("\x81\x7f\0\0\0\0\0\x01\x11\x70", 10));
}

TEST(websocket_frame, close_frames_cut_long_reasons_on_a_character_boundary) {
    EXPECT_EQ(make_close_frame(1000, ""), std::string("\x88\x02\x03\xe8", 4));
    std::string reason(122, 'a');
    reason += "\xe2\x82\xac";  // a 3-byte character straddling the 123-byte limit
    const auto frame = make_close_frame(1011, reason);
    ASSERT_EQ(frame.size(), 2U + 2U + 122U);
    EXPECT_EQ(static_cast<std::uint8_t>(frame[1]), 124U);
    utf8_validator validator;
    EXPECT_TRUE(validator.feed(frame.substr(4)) && validator.complete());
}

TEST(websocket_frame, accept_key_matches_rfc_6455) {
    // RFC 6455 1.3.
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_FALSE(accept_key(""));
    EXPECT_FALSE(accept_key("not base64 at all!!!!!!!"));
    EXPECT_FALSE(accept_key("dGhlIHNhbXBsZQ=="));  // 11 bytes, not 16
}

TEST(websocket_frame, close_codes_follow_the_registry) {
    EXPECT_TRUE(is_valid_close_code(1000));
    EXPECT_TRUE(is_valid_close_code(1011));
    EXPECT_TRUE(is_valid_close_code(4000));
    EXPECT_FALSE(is_valid_close_code(999));
    EXPECT_FALSE(is_valid_close_code(1005));
    EXPECT_FALSE(is_valid_close_code(1006));
    EXPECT_FALSE(is_valid_close_code(1015));
    EXPECT_FALSE(is_valid_close_code(2000));
    EXPECT_FALSE(is_valid_close_code(5000));
}

}  // namespace
}  // namespace switchboard::transport::websocket
