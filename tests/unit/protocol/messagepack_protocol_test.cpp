#include "protocol/messagepack_protocol.hpp"
#include "core/base64.hpp"
#include "protocol/binary_framing.hpp"
#include "protocol/hub_value.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {
namespace {

namespace json = boost::json;

// "96 01 80" -> the bytes.
std::string hex(std::string_view text) {
    std::string out;
    unsigned value = 0;
    int digits = 0;
    for (const char c : text) {
        if (c == ' ') {
            continue;
        }
        value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        if (++digits == 2) {
            out.push_back(static_cast<char>(value));
            value = 0;
            digits = 0;
        }
    }
    return out;
}

std::string from_base64(std::string_view text) {
    std::string out;
    EXPECT_TRUE(decode_base64(text, out)) << text;
    return out;
}

std::string framed(std::string_view body) {
    std::string out;
    append_varint_frame(body, out);
    return out;
}

hub_message parse_ok(std::string_view body) {
    auto message = parse_messagepack_message(body);
    EXPECT_TRUE(message) << (message ? "" : message.error_message());
    return message ? std::move(*message) : hub_message(unknown_message{-1});
}

std::string write(const hub_message& message) {
    std::string out;
    write_messagepack_message(message, out);
    return out;
}

std::string value_bytes(const hub_value& value) {
    std::string out;
    append_messagepack_value(value, out);
    return out;
}

hub_value value_ok(std::string_view bytes) {
    auto value = parse_messagepack_value(bytes);
    EXPECT_TRUE(value) << (value ? "" : value.error_message());
    return value ? std::move(*value) : hub_value();
}

json::array arguments(std::string_view text) {
    return json::parse(text).as_array();
}

// --- §15.4: MessagePackHubProtocolTestBase.BaseTestData -----------------------------------------

// Every body is what the ASP.NET server writes, so the writer must reproduce it byte for byte
// (framed), and the parser must read it; per-field checks follow in the tests below.
struct base_case {
    const char* name;
    const char* base64;
    const char* body_hex;
    bool written_identically;  // false only for the float32 item, which we write as float64
};

void PrintTo(const base_case& c, std::ostream* os) {
    *os << c.name;
}

const base_case base_cases[] = {
    {"invocation_id_no_args",
     "lgGAo3h5eqZtZXRob2SQkA==", "96 01 80 a3 78 79 7a a6 6d 65 74 68 6f 64 90 90", true},
    {"invocation_args_42", "lgGAwKZtZXRob2SRKpA=", "96 01 80 c0 a6 6d 65 74 68 6f 64 91 2a 90",
     true},
    {"invocation_args_42_string", "lgGAwKZtZXRob2SSKqZzdHJpbmeQ",
     "96 01 80 c0 a6 6d 65 74 68 6f 64 92 2a a6 73 74 72 69 6e 67 90", true},
    {"invocation_stream_ids", "lgGAwKZUYXJnZXSRKpGrX190ZXN0X2lkX18=",
     "96 01 80 c0 a6 54 61 72 67 65 74 91 2a 91 ab 5f 5f 74 65 73 74 5f 69 64 5f 5f", true},
    {"stream_item_42", "lAKAo3h5eio=", "94 02 80 a3 78 79 7a 2a", true},
    {"stream_item_float", "lAKAo3h5espCKAAA", "94 02 80 a3 78 79 7a ca 42 28 00 00", false},
    {"stream_item_true", "lAKAo3h5esM=", "94 02 80 a3 78 79 7a c3", true},
    {"completion_error", "lQOAo3h5egGwRXJyb3Igbm90IGZvdW5kIQ==",
     "95 03 80 a3 78 79 7a 01 b0 45 72 72 6f 72 20 6e 6f 74 20 66 6f 75 6e 64 21", true},
    {"completion_void", "lAOAo3h5egI=", "94 03 80 a3 78 79 7a 02", true},
    {"completion_42", "lQOAo3h5egMq", "95 03 80 a3 78 79 7a 03 2a", true},
    {"completion_string", "lQOAo3h5egOmc3RyaW5n", "95 03 80 a3 78 79 7a 03 a6 73 74 72 69 6e 67",
     true},
    {"completion_headers_error",
     "lQODo0Zvb6NCYXKyS2V5V2l0aApOZXcNCkxpbmVzq1N0aWxsIFdvcmtzsVZhbHVlV2l0aE5ld0xpbmVzsEFsc28KV29y"
     "a3MNCkZpbmWjeHl6AbBFcnJvciBub3QgZm91bmQh",
     "95 03 83 a3 46 6f 6f a3 42 61 72 b2 4b 65 79 57 69 74 68 0a 4e 65 77 0d 0a 4c 69 6e 65 73 ab "
     "53 74 69 6c 6c 20 57 6f 72 6b 73 b1 56 61 6c 75 65 57 69 74 68 4e 65 77 4c 69 6e 65 73 b0 41 "
     "6c 73 6f 0a 57 6f 72 6b 73 0d 0a 46 69 6e 65 a3 78 79 7a 01 b0 45 72 72 6f 72 20 6e 6f 74 20 "
     "66 6f 75 6e 64 21",
     true},
    {"stream_invocation",
     "lgSAo3h5eqZtZXRob2SRKpA=", "96 04 80 a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 90", true},
    {"cancel_invocation", "kwWAo3h5eg==", "93 05 80 a3 78 79 7a", true},
    {"ping", "kQY=", "91 06", true},
    {"close", "kwfAwg==", "93 07 c0 c2", true},
    {"close_error", "kwemRXJyb3Ihwg==", "93 07 a6 45 72 72 6f 72 21 c2", true},
    {"close_allow_reconnect", "kwfAww==", "93 07 c0 c3", true},
    {"close_error_allow_reconnect", "kwemRXJyb3Ihww==", "93 07 a6 45 72 72 6f 72 21 c3", true},
    {"ack_42", "kggq", "92 08 2a", true},
    {"sequence_146", "kgnMkg==", "92 09 cc 92", true},
};

class messagepack_base_data : public testing::TestWithParam<base_case> {};

TEST_P(messagepack_base_data, parses_and_writes_back) {
    const auto& c = GetParam();
    const std::string body = from_base64(c.base64);
    EXPECT_EQ(body, hex(c.body_hex));
    const auto message = parse_ok(body);
    const std::string written = write(message);
    if (c.written_identically) {
        EXPECT_EQ(written, framed(body));
    }
    // Whatever the encoding, what was written reads back as the same message.
    binary_frame_reader reader(32 * 1024);
    reader.append(written);
    std::string_view record;
    ASSERT_EQ(reader.next(record), binary_frame_reader::status::record);
    EXPECT_EQ(reader.buffered(), 0u);
    const auto again = parse_ok(record);
    EXPECT_EQ(again.index(), message.index());
    EXPECT_EQ(write(again), written);
}

INSTANTIATE_TEST_SUITE_P(messagepack, messagepack_base_data, testing::ValuesIn(base_cases),
                         [](const auto& info) { return std::string(info.param.name); });

// The framed forms the spec lists in full.
TEST(messagepack_protocol, framed_vectors) {
    EXPECT_EQ(write(parse_ok(from_base64("lgGAo3h5eqZtZXRob2SQkA=="))),
              hex("10 96 01 80 a3 78 79 7a a6 6d 65 74 68 6f 64 90 90"));
    EXPECT_EQ(write(parse_ok(from_base64("lAKAo3h5eio="))), hex("08 94 02 80 a3 78 79 7a 2a"));
    EXPECT_EQ(write(parse_ok(from_base64("lAOAo3h5egI="))), hex("08 94 03 80 a3 78 79 7a 02"));
    EXPECT_EQ(write(parse_ok(from_base64("lQOAo3h5egMq"))), hex("09 95 03 80 a3 78 79 7a 03 2a"));
    EXPECT_EQ(write(parse_ok(from_base64("kwWAo3h5eg=="))), hex("07 93 05 80 a3 78 79 7a"));
    EXPECT_EQ(write(parse_ok(from_base64("kQY="))), hex("02 91 06"));
    EXPECT_EQ(write(parse_ok(from_base64("kwfAwg=="))), hex("04 93 07 c0 c2"));
    EXPECT_EQ(write(parse_ok(from_base64("kwfAww=="))), hex("04 93 07 c0 c3"));
    EXPECT_EQ(write(parse_ok(from_base64("kggq"))), hex("03 92 08 2a"));
    EXPECT_EQ(write(parse_ok(from_base64("kgnMkg=="))), hex("04 92 09 cc 92"));
    // The first byte of the others.
    EXPECT_EQ(write(parse_ok(from_base64("lgGAwKZtZXRob2SRKpA=")))[0], '\x0e');
    EXPECT_EQ(write(parse_ok(from_base64("lgGAwKZtZXRob2SSKqZzdHJpbmeQ")))[0], '\x15');
    EXPECT_EQ(write(parse_ok(from_base64("lgGAwKZUYXJnZXSRKpGrX190ZXN0X2lkX18=")))[0], '\x1a');
    EXPECT_EQ(write(parse_ok(from_base64("lAKAo3h5esM=")))[0], '\x08');
    EXPECT_EQ(write(parse_ok(from_base64("lQOAo3h5egGwRXJyb3Igbm90IGZvdW5kIQ==")))[0], '\x19');
    EXPECT_EQ(write(parse_ok(from_base64("lQOAo3h5egOmc3RyaW5n")))[0], '\x0f');
    EXPECT_EQ(write(parse_ok(from_base64("lgSAo3h5eqZtZXRob2SRKpA=")))[0], '\x11');
    EXPECT_EQ(write(parse_ok(from_base64("kwemRXJyb3Ihwg==")))[0], '\x0a');
    EXPECT_EQ(write(parse_ok(from_base64("kwemRXJyb3Ihww==")))[0], '\x0a');
}

TEST(messagepack_protocol, invocation_fields) {
    {
        const auto m =
            std::get<invocation_message>(parse_ok(from_base64("lgGAo3h5eqZtZXRob2SQkA==")));
        EXPECT_TRUE(m.headers.empty());
        EXPECT_EQ(m.invocation_id, "xyz");
        EXPECT_EQ(m.target, "method");
        EXPECT_TRUE(m.arguments.empty());
        EXPECT_TRUE(m.stream_ids.empty());
    }
    {
        const auto m =
            std::get<invocation_message>(parse_ok(from_base64("lgGAwKZtZXRob2SSKqZzdHJpbmeQ")));
        EXPECT_FALSE(m.invocation_id);
        EXPECT_EQ(m.arguments, arguments(R"([42,"string"])"));
        ASSERT_TRUE(m.arguments[0].is_int64());
    }
    {
        const auto m = std::get<invocation_message>(
            parse_ok(from_base64("lgGAwKZUYXJnZXSRKpGrX190ZXN0X2lkX18=")));
        EXPECT_EQ(m.target, "Target");
        EXPECT_EQ(m.arguments, arguments("[42]"));
        EXPECT_EQ(m.stream_ids, std::vector<std::string>{"__test_id__"});
    }
}

// A str is any bytes to MessagePack; arguments reach JSON clients, so invalid UTF-8 becomes
// U+FFFD as .NET's decoder makes it (one MessagePack client must not break JSON clients).
TEST(messagepack_protocol, invalid_utf8_strings_are_repaired) {
    // [1, {}, nil, "M", ["a\xff", {"k\xc0": 1}], []]
    const std::string body = "\x96\x01\x80\xc0\xa1M\x92\xa2\x61\xff\x81\xa2k\xc0\x01\x90";
    const auto m = std::get<invocation_message>(parse_ok(body));
    ASSERT_EQ(m.arguments.size(), 2u);
    EXPECT_EQ(m.arguments[0].as_string(), "a\xEF\xBF\xBD");
    EXPECT_TRUE(m.arguments[1].as_object().contains("k\xEF\xBF\xBD"));
}

TEST(messagepack_protocol, stream_item_fields) {
    {
        const auto m = std::get<stream_item_message>(parse_ok(from_base64("lAKAo3h5eio=")));
        EXPECT_EQ(m.invocation_id, "xyz");
        EXPECT_EQ(m.item, json::value(42));
    }
    {
        const auto m = std::get<stream_item_message>(parse_ok(from_base64("lAKAo3h5espCKAAA")));
        ASSERT_TRUE(m.item.is_double());
        EXPECT_EQ(m.item.get_double(), 42.0);
    }
    {
        const auto m = std::get<stream_item_message>(parse_ok(from_base64("lAKAo3h5esM=")));
        EXPECT_EQ(m.item, json::value(true));
    }
}

TEST(messagepack_protocol, completion_fields) {
    {
        const auto m = std::get<completion_message>(
            parse_ok(from_base64("lQOAo3h5egGwRXJyb3Igbm90IGZvdW5kIQ==")));
        EXPECT_EQ(m.invocation_id, "xyz");
        EXPECT_EQ(m.error, "Error not found!");
        EXPECT_FALSE(m.result);
    }
    {
        const auto m = std::get<completion_message>(parse_ok(from_base64("lAOAo3h5egI=")));
        EXPECT_FALSE(m.error);
        EXPECT_FALSE(m.result);
    }
    {
        const auto m = std::get<completion_message>(parse_ok(from_base64("lQOAo3h5egMq")));
        EXPECT_FALSE(m.error);
        EXPECT_EQ(m.result, json::value(42));
    }
    {
        const auto m = std::get<completion_message>(parse_ok(from_base64("lQOAo3h5egOmc3RyaW5n")));
        EXPECT_EQ(m.result, json::value("string"));
    }
    {
        const auto m = std::get<completion_message>(parse_ok(from_base64(
            "lQODo0Zvb6NCYXKyS2V5V2l0aApOZXcNCkxpbmVzq1N0aWxsIFdvcmtzsVZhbHVlV2l0aE5ld0xpbmVzsEFsc2"
            "8KV29ya3MNCkZpbmWjeHl6AbBFcnJvciBub3QgZm91bmQh")));
        const message_headers expected = {{"Foo", "Bar"},
                                          {"KeyWith\nNew\r\nLines", "Still Works"},
                                          {"ValueWithNewLines", "Also\nWorks\r\nFine"}};
        EXPECT_EQ(m.headers, expected);
        EXPECT_EQ(m.error, "Error not found!");
    }
}

TEST(messagepack_protocol, other_fields) {
    {
        const auto m =
            std::get<stream_invocation_message>(parse_ok(from_base64("lgSAo3h5eqZtZXRob2SRKpA=")));
        EXPECT_EQ(m.invocation_id, "xyz");
        EXPECT_EQ(m.target, "method");
        EXPECT_EQ(m.arguments, arguments("[42]"));
        EXPECT_TRUE(m.stream_ids.empty());
    }
    EXPECT_EQ(
        std::get<cancel_invocation_message>(parse_ok(from_base64("kwWAo3h5eg=="))).invocation_id,
        "xyz");
    EXPECT_TRUE(std::holds_alternative<ping_message>(parse_ok(from_base64("kQY="))));
    {
        const auto m = std::get<close_message>(parse_ok(from_base64("kwfAwg==")));
        EXPECT_FALSE(m.error);
        EXPECT_FALSE(m.allow_reconnect);
    }
    {
        const auto m = std::get<close_message>(parse_ok(from_base64("kwemRXJyb3Ihww==")));
        EXPECT_EQ(m.error, "Error!");
        EXPECT_TRUE(m.allow_reconnect);
    }
    EXPECT_EQ(std::get<ack_message>(parse_ok(from_base64("kggq"))).sequence_id, 42);
    EXPECT_EQ(std::get<sequence_message>(parse_ok(from_base64("kgnMkg=="))).sequence_id, 146);
}

// HubProtocol.md examples.
TEST(messagepack_protocol, spec_examples) {
    const std::string with_headers =
        hex("96 01 82 a1 78 a1 79 a1 7a a1 7a a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 90");
    const auto m = std::get<invocation_message>(parse_ok(with_headers));
    EXPECT_EQ(m.headers, (message_headers{{"x", "y"}, {"z", "z"}}));
    EXPECT_EQ(write(m), framed(with_headers));

    // The spec example spells these ids as uint8 (cc 24); the writer picks the most compact
    // format, as MessagePack-CSharp does (Ack 42 above is 2a).
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 cc 24"))).sequence_id, 36);
    EXPECT_EQ(write(ack_message{36}), framed(hex("92 08 24")));
    EXPECT_EQ(std::get<sequence_message>(parse_ok(hex("92 09 cc 13"))).sequence_id, 19);
    EXPECT_EQ(write(sequence_message{19}), framed(hex("92 09 13")));
}

// --- §15.3: what the JS client 10.0.11 sends (framed) -------------------------------------------

hub_message parse_framed(std::string_view frame) {
    binary_frame_reader reader(32 * 1024);
    reader.append(frame);
    std::string_view body;
    EXPECT_EQ(reader.next(body), binary_frame_reader::status::record);
    EXPECT_EQ(reader.buffered(), 0u);
    return parse_ok(body);
}

TEST(messagepack_protocol, js_client_invocations) {
    {
        // 5 items: no StreamIds.
        const auto m = std::get<invocation_message>(
            parse_framed(hex("0e 95 01 80 a1 30 a4 45 63 68 6f 91 a2 68 69")));
        EXPECT_EQ(m.invocation_id, "0");
        EXPECT_EQ(m.target, "Echo");
        EXPECT_EQ(m.arguments, arguments(R"(["hi"])"));
        EXPECT_TRUE(m.stream_ids.empty());
    }
    {
        const auto m = std::get<invocation_message>(
            parse_framed(hex("0d 95 01 80 c0 a4 45 63 68 6f 91 a2 68 69")));
        EXPECT_FALSE(m.invocation_id);
        EXPECT_EQ(m.target, "Echo");
    }
    {
        const std::string frame =
            hex("19 96 01 80 a1 31 af 53 74 72 65 61 6d 69 6e 67 43 6f 6e 63 61 74 90 91 a1 32");
        const auto m = std::get<invocation_message>(parse_framed(frame));
        EXPECT_EQ(m.invocation_id, "1");
        EXPECT_EQ(m.target, "StreamingConcat");
        EXPECT_TRUE(m.arguments.empty());
        EXPECT_EQ(m.stream_ids, std::vector<std::string>{"2"});
        EXPECT_EQ(write(m), frame);
    }
    {
        const auto m = std::get<stream_invocation_message>(
            parse_framed(hex("0d 95 04 80 a1 32 a6 53 74 72 65 61 6d 90")));
        EXPECT_EQ(m.invocation_id, "2");
        EXPECT_EQ(m.target, "Stream");
        EXPECT_TRUE(m.stream_ids.empty());
    }
}

TEST(messagepack_protocol, js_client_other_messages) {
    const auto exact = [](std::string_view frame) {
        const auto message = parse_framed(frame);
        EXPECT_EQ(write(message), frame);
        return message;
    };
    {
        const auto m =
            std::get<stream_item_message>(exact(hex("0c 94 02 80 a1 31 a6 48 65 6c 6c 6f 20")));
        EXPECT_EQ(m.invocation_id, "1");
        EXPECT_EQ(m.item, json::value("Hello "));
    }
    {
        const auto m = std::get<completion_message>(exact(hex("06 94 03 80 a1 31 02")));
        EXPECT_EQ(m.invocation_id, "1");
        EXPECT_FALSE(m.error);
        EXPECT_FALSE(m.result);
    }
    {
        const auto m = std::get<completion_message>(
            exact(hex("14 95 03 80 a1 31 01 ad 53 6f 6d 65 74 68 69 6e 67 20 62 61 64")));
        EXPECT_EQ(m.error, "Something bad");
    }
    {
        const auto m = std::get<completion_message>(exact(hex("08 95 03 80 a2 73 31 03 0a")));
        EXPECT_EQ(m.invocation_id, "s1");
        EXPECT_EQ(m.result, json::value(10));
    }
    {
        const auto m = std::get<completion_message>(exact(hex("08 95 03 80 a2 73 31 03 c0")));
        ASSERT_TRUE(m.result);
        EXPECT_TRUE(m.result->is_null());
    }
    EXPECT_EQ(std::get<cancel_invocation_message>(exact(hex("05 93 05 80 a1 30"))).invocation_id,
              "0");
    {
        // 2 items: no allowReconnect.
        const auto m = std::get<close_message>(parse_framed(hex("03 92 07 c0")));
        EXPECT_FALSE(m.error);
        EXPECT_FALSE(m.allow_reconnect);
    }
    EXPECT_TRUE(std::holds_alternative<ping_message>(exact(hex("02 91 06"))));
    EXPECT_EQ(std::get<ack_message>(exact(hex("03 92 08 01"))).sequence_id, 1);
    EXPECT_EQ(std::get<sequence_message>(exact(hex("03 92 09 01"))).sequence_id, 1);
}

// --- MessageSizeData
// ------------------------------------------------------------------------------

TEST(messagepack_protocol, message_size_data) {
    invocation_message invocation;
    invocation.target = "Target";
    invocation.arguments = arguments("[1]");
    EXPECT_EQ(write(invocation).size(), 15u);
    invocation.invocation_id = "1";
    EXPECT_EQ(write(invocation).size(), 16u);
    invocation.stream_ids = {"2"};
    EXPECT_EQ(write(invocation).size(), 18u);

    EXPECT_EQ(write(close_message{}).size(), 5u);
    EXPECT_EQ(write(close_message{"error", false}).size(), 10u);

    stream_item_message item;
    item.invocation_id = "1";
    EXPECT_EQ(write(item).size(), 7u);
    item.item = 1;
    EXPECT_EQ(write(item).size(), 7u);

    EXPECT_EQ(write(completion_message::empty("1")).size(), 7u);
    EXPECT_EQ(write(completion_message::with_result("1", 1)).size(), 8u);
    EXPECT_EQ(write(completion_message::with_error("1", "error")).size(), 13u);

    stream_invocation_message stream;
    stream.invocation_id = "1";
    stream.target = "target";
    EXPECT_EQ(write(stream).size(), 15u);
    stream.stream_ids = {"2"};
    EXPECT_EQ(write(stream).size(), 17u);

    EXPECT_EQ(write(cancel_invocation_message{{}, "1"}).size(), 6u);
    EXPECT_EQ(write(ping_message{}).size(), 3u);
}

// --- Writer details
// -------------------------------------------------------------------------------

TEST(messagepack_protocol, broadcast_invocation_matches_the_message_writer) {
    std::string out = "x";
    write_messagepack_invocation("method", arguments("[42]"), out);
    EXPECT_EQ(out, "x" + hex("0e 96 01 80 c0 a6 6d 65 74 68 6f 64 91 2a 90"));

    invocation_message m;
    m.target = "Send";
    m.arguments = arguments(R"([1,"two",[3.5],{"four":null},true])");
    std::string direct;
    write_messagepack_invocation(m.target, m.arguments, direct);
    EXPECT_EQ(direct, write(m));
    // Appends: several messages share a buffer.
    write_messagepack_invocation(m.target, m.arguments, direct);
    EXPECT_EQ(direct, write(m) + write(m));
}

TEST(messagepack_protocol, writes_large_bodies_with_longer_prefixes) {
    invocation_message m;
    m.target = "Big";
    m.arguments.emplace_back(std::string(70000, 'a'));
    const std::string out = write(m);
    binary_frame_reader reader(1024 * 1024);
    reader.append(out);
    std::string_view body;
    ASSERT_EQ(reader.next(body), binary_frame_reader::status::record);
    EXPECT_EQ(out.size() - body.size(), 3u);
    const auto again = std::get<invocation_message>(parse_ok(body));
    EXPECT_EQ(again.arguments, m.arguments);
}

TEST(messagepack_protocol, empty_invocation_id_is_written_as_nil) {
    invocation_message m;
    m.invocation_id = "";
    m.target = "method";
    EXPECT_EQ(write(m), hex("0d 96 01 80 c0 a6 6d 65 74 68 6f 64 90 90"));
}

TEST(messagepack_protocol, empty_close_error_is_written_as_nil) {
    EXPECT_EQ(write(close_message{"", true}), hex("04 93 07 c0 c3"));
}

TEST(messagepack_protocol, completion_with_error_and_result_writes_the_error) {
    completion_message m = completion_message::with_error("1", "e");
    m.result = 5;
    EXPECT_EQ(write(m), hex("08 95 03 80 a1 31 01 a1 65"));
}

TEST(messagepack_protocol, unknown_message_is_written_as_its_type) {
    EXPECT_EQ(write(unknown_message{99}), hex("02 91 63"));
    EXPECT_EQ(std::get<unknown_message>(parse_ok(hex("91 63"))).type, 99);
}

// --- Reader details
// -------------------------------------------------------------------------------

TEST(messagepack_protocol, empty_string_invocation_id_means_none) {
    const auto m =
        std::get<invocation_message>(parse_ok(hex("96 01 80 a0 a6 6d 65 74 68 6f 64 90 90")));
    EXPECT_FALSE(m.invocation_id);
}

TEST(messagepack_protocol, extra_trailing_items_and_bytes_are_ignored) {
    const auto m = std::get<invocation_message>(
        parse_ok(hex("98 01 80 a1 31 a6 6d 65 74 68 6f 64 90 90 c3 a5 65 78 74 72 61")));
    EXPECT_EQ(m.invocation_id, "1");
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("93 08 2a c0"))).sequence_id, 42);
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 2a ff ff ff"))).sequence_id, 42);
    EXPECT_TRUE(std::holds_alternative<ping_message>(parse_ok(hex("92 06 c0"))));
    const auto close = std::get<close_message>(parse_ok(hex("94 07 a1 65 c3 2a")));
    EXPECT_EQ(close.error, "e");
    EXPECT_TRUE(close.allow_reconnect);
}

TEST(messagepack_protocol, integers_of_any_width) {
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 cd 01 00"))).sequence_id, 256);
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 ce 00 01 00 00"))).sequence_id, 65536);
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 cf 7f ff ff ff ff ff ff ff"))).sequence_id,
              std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 d0 01"))).sequence_id, 1);
    EXPECT_EQ(std::get<ack_message>(parse_ok(hex("92 08 ff"))).sequence_id, -1);
    EXPECT_TRUE(std::holds_alternative<ping_message>(parse_ok(hex("91 cc 06"))));
    EXPECT_TRUE(
        std::holds_alternative<ping_message>(parse_ok(hex("91 d3 00 00 00 00 00 00 00 06"))));
    // Completion result kind in a wide format.
    EXPECT_TRUE(
        std::holds_alternative<completion_message>(parse_ok(hex("94 03 80 a1 31 cd 00 02"))));
}

TEST(messagepack_protocol, str8_and_str16_strings) {
    const std::string target(40, 't');
    invocation_message m;
    m.target = target;
    const std::string out = write(m);
    // Target as str8 (d9 28), as MessagePack-CSharp writes it.
    EXPECT_NE(out.find(hex("d9 28") + target), std::string::npos);
    EXPECT_EQ(std::get<invocation_message>(parse_ok(out.substr(1))).target, target);

    const std::string long_target(300, 'u');
    m.target = long_target;
    const std::string out16 = write(m);
    EXPECT_NE(out16.find(hex("da 01 2c") + long_target), std::string::npos);
}

// --- Invalid payloads
// -----------------------------------------------------------------------------

struct invalid_case {
    const char* body_hex;
    const char* error;
};

void PrintTo(const invalid_case& c, std::ostream* os) {
    *os << c.body_hex;
}

class messagepack_invalid : public testing::TestWithParam<invalid_case> {};

TEST_P(messagepack_invalid, fails_with_the_exact_error) {
    const auto result = parse_messagepack_message(hex(GetParam().body_hex));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error_message(), GetParam().error);
}

const invalid_case invalid_cases[] = {
    // BaseInvalidPayloads.
    {"91 a3 66 6f 6f", "Reading 'messageType' as Int32 failed."},
    {"92 01 a3 66 6f 6f", "Reading map length for 'headers' failed."},
    {"92 01 82 a0 a3 66 6f 6f", "Null or empty key in header."},
    {"92 01 80", "Reading 'invocationId' as String failed."},
    {"94 01 80 a3 61 62 63 a0", "Null or empty target for Invocation message."},
    {"94 03 80 a3 78 79 7a 2a", "Invalid invocation result kind."},
    {"91 08", "Reading 'sequenceId' as Int64 failed."},
    // The rest of §6.3.
    {"", "Reading array length for 'message' failed."},
    {"a3 66 6f 6f", "Reading array length for 'message' failed."},
    {"dc 00", "Reading array length for 'message' failed."},
    {"90", "Reading 'messageType' as Int32 failed."},
    {"91 ce 80 00 00 00", "Reading 'messageType' as Int32 failed."},
    {"91 ca 3f 80 00 00", "Reading 'messageType' as Int32 failed."},
    {"91 cd 00", "Reading 'messageType' as Int32 failed."},
    {"92 01 81 a1 6b a0", "Null or empty value in header."},
    {"92 01 81 a1 6b c0", "Null or empty value in header."},
    {"92 01 81 c0 a1 76", "Null or empty key in header."},
    {"92 01 81 2a a1 76", "Reading 'headers[0].Key' as String failed."},
    {"92 01 82 a1 6b a1 76 a1 6c 2a", "Reading 'headers[1].Value' as String failed."},
    {"92 01 de 00", "Reading map length for 'headers' failed."},
    {"93 01 80 2a", "Reading 'invocationId' as String failed."},
    {"93 01 80 a5 61 62", "Reading 'invocationId' as String failed."},
    {"93 01 80 c0", "Reading 'target' as String failed."},
    {"94 01 80 c0 2a", "Reading 'target' as String failed."},
    {"94 01 80 c0 c0", "Null or empty target for Invocation message."},
    {"94 01 80 c0 a1 6d", "Reading array length for 'arguments' failed."},
    {"95 01 80 c0 a1 6d 80", "Reading array length for 'arguments' failed."},
    {"95 01 80 c0 a1 6d 92 01", "Reading 'arguments' failed. Invalid MessagePack data."},
    {"96 01 80 c0 a1 6d 90 c0", "Reading array length for 'streamIds' failed."},
    {"96 01 80 c0 a1 6d 90 91 a0", "Null or empty value in streamIds received."},
    {"96 01 80 c0 a1 6d 90 91 c0", "Null or empty value in streamIds received."},
    {"96 01 80 c0 a1 6d 90 91 2a", "Reading 'streamIds' as String failed."},
    {"96 01 80 c0 a1 6d 90 92 a1 32", "Reading 'streamIds' as String failed."},
    {"95 04 80 c0 a1 6d 90", "Null or empty invocation ID for StreamInvocation message."},
    {"95 04 80 a0 a1 6d 90", "Null or empty invocation ID for StreamInvocation message."},
    {"95 04 80 a1 31 a0 90", "Null or empty target for StreamInvocation message."},
    {"94 02 80 c0 2a", "Null or empty invocation ID for StreamItem message."},
    {"93 02 80 a1 31", "Reading 'item' failed. Invalid MessagePack data."},
    {"94 02 80 a1 31 c1", "Reading 'item' failed. Invalid MessagePack data."},
    {"94 03 80 a0 02", "Null or empty invocation ID for Completion message."},
    {"93 03 80 a1 31", "Reading 'resultKind' as Int32 failed."},
    {"94 03 80 a1 31 c3", "Reading 'resultKind' as Int32 failed."},
    {"95 03 80 a1 31 01 2a", "Reading 'error' as String failed."},
    {"94 03 80 a1 31 01", "Reading 'error' as String failed."},
    {"94 03 80 a1 31 03", "Reading 'result' failed. Invalid MessagePack data."},
    {"93 05 80 c0", "Null or empty invocation ID for CancelInvocation message."},
    {"92 05 80", "Reading 'invocationId' as String failed."},
    {"91 07", "Reading 'error' as String failed."},
    {"92 07 2a", "Reading 'error' as String failed."},
    {"93 07 c0 c0", "Reading 'allowReconnect' as Boolean failed."},
    {"93 07 c0", "Reading 'allowReconnect' as Boolean failed."},
    {"92 08 a1 31", "Reading 'sequenceId' as Int64 failed."},
    {"92 09 cf 80 00 00 00 00 00 00 00", "Reading 'sequenceId' as Int64 failed."},
    {"92 09 cb 3f f0 00 00 00 00 00 00", "Reading 'sequenceId' as Int64 failed."},
    {"92 09 cd 01", "Reading 'sequenceId' as Int64 failed."},
    // Hostile counts: mp_check wraps on these, the decoder must not.
    {"95 01 80 c0 a1 6d dd 80 00 00 00", "Reading 'arguments' failed. Invalid MessagePack data."},
    {"95 01 80 c0 a1 6d 91 dd 80 00 00 00",
     "Reading 'arguments' failed. Invalid MessagePack data."},
    {"95 01 80 c0 a1 6d 91 dd ff ff ff ff",
     "Reading 'arguments' failed. Invalid MessagePack data."},
    {"95 01 80 c0 a1 6d 91 df 80 00 00 00 01",
     "Reading 'arguments' failed. Invalid MessagePack data."},
    {"95 01 80 c0 a1 6d 92 df 80 00 00 00 db ff ff ff ff",
     "Reading 'arguments' failed. Invalid MessagePack data."},
    {"94 02 80 a1 31 dd ff ff ff fe 2a", "Reading 'item' failed. Invalid MessagePack data."},
    {"95 03 80 a1 31 03 df 7f ff ff ff", "Reading 'result' failed. Invalid MessagePack data."},
    {"92 01 df ff ff ff ff", "Reading 'headers[0].Key' as String failed."},
    // Values the mapping refuses.
    {"95 01 80 c0 a1 6d 91 81 01 02",
     "Reading 'arguments' failed. Reading map key as String failed."},
    {"94 02 80 a1 31 81 c0 02", "Reading 'item' failed. Reading map key as String failed."},
    {"94 02 80 a1 31 d4 05 00", "Reading 'item' failed. Unsupported MessagePack extension type."},
    {"94 02 80 a1 31 d5 ff 00 00", "Reading 'item' failed. Invalid MessagePack timestamp."},
    {"94 02 80 a1 31 d7 ff ff ff ff fc 00 00 00 00",
     "Reading 'item' failed. Invalid MessagePack timestamp."},
    {"94 02 80 a1 31 c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00",
     "Reading 'item' failed. Invalid MessagePack timestamp."},
    {"94 02 80 a1 31 c7 03 ff 00", "Reading 'item' failed. Invalid MessagePack data."},
};

INSTANTIATE_TEST_SUITE_P(messagepack, messagepack_invalid, testing::ValuesIn(invalid_cases));

TEST(messagepack_protocol, truncations_of_valid_messages_fail_cleanly) {
    for (const auto& c : base_cases) {
        const std::string body = from_base64(c.base64);
        for (std::size_t size = 0; size < body.size(); ++size) {
            // Some prefixes are complete messages of their own (a Close without allowReconnect
            // is not: its count says 3); none may crash or read past the end.
            const auto result = parse_messagepack_message(std::string(body.substr(0, size)));
            static_cast<void>(result);
        }
    }
    EXPECT_FALSE(parse_messagepack_message(hex("93 07 c0")));
}

TEST(messagepack_protocol, nesting_depth_is_limited_to_64) {
    const auto item_with_depth = [](std::size_t depth) {
        std::string body = hex("94 02 80 a1 31");
        body.append(depth, static_cast<char>(0x91));
        body.push_back(0x2a);
        return body;
    };
    EXPECT_TRUE(parse_messagepack_message(item_with_depth(64)));
    const auto deep = parse_messagepack_message(item_with_depth(65));
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error_message(), "Reading 'item' failed. Maximum nesting depth of 64 exceeded.");

    // Maps count the same.
    std::string body = hex("94 02 80 a1 31");
    for (int i = 0; i < 65; ++i) {
        body += hex("81 a1 6b");
    }
    body.push_back(0x2a);
    EXPECT_FALSE(parse_messagepack_message(body));

    // Each argument has its own budget.
    std::string args = hex("95 01 80 c0 a1 6d 92");
    for (int a = 0; a < 2; ++a) {
        args.append(64, static_cast<char>(0x91));
        args.push_back(0x2a);
    }
    EXPECT_TRUE(parse_messagepack_message(args));
}

TEST(messagepack_protocol, deep_input_beyond_the_limit_does_not_recurse) {
    std::string body = hex("94 02 80 a1 31");
    body.append(100000, static_cast<char>(0x91));
    body.push_back(0x2a);
    EXPECT_FALSE(parse_messagepack_message(body));
}

// --- Values
// ----------------------------------------------------------------------------------------

TEST(messagepack_values, integers_are_written_compactly) {
    EXPECT_EQ(value_bytes(0), hex("00"));
    EXPECT_EQ(value_bytes(127), hex("7f"));
    EXPECT_EQ(value_bytes(128), hex("cc 80"));
    EXPECT_EQ(value_bytes(255), hex("cc ff"));
    EXPECT_EQ(value_bytes(256), hex("cd 01 00"));
    EXPECT_EQ(value_bytes(65536), hex("ce 00 01 00 00"));
    EXPECT_EQ(value_bytes(std::int64_t{1} << 32), hex("cf 00 00 00 01 00 00 00 00"));
    EXPECT_EQ(value_bytes(-1), hex("ff"));
    EXPECT_EQ(value_bytes(-32), hex("e0"));
    EXPECT_EQ(value_bytes(-33), hex("d0 df"));
    EXPECT_EQ(value_bytes(-129), hex("d1 ff 7f"));
    EXPECT_EQ(value_bytes(-32769), hex("d2 ff ff 7f ff"));
    EXPECT_EQ(value_bytes(std::numeric_limits<std::int64_t>::min()),
              hex("d3 80 00 00 00 00 00 00 00"));
    EXPECT_EQ(value_bytes(std::numeric_limits<std::uint64_t>::max()),
              hex("cf ff ff ff ff ff ff ff ff"));
    EXPECT_EQ(value_bytes(std::uint64_t{5}), hex("05"));
}

TEST(messagepack_values, integers_read_as_int64_unless_too_large) {
    EXPECT_TRUE(value_ok(hex("cc 80")).is_int64());
    EXPECT_TRUE(value_ok(hex("cf 7f ff ff ff ff ff ff ff")).is_int64());
    const auto big = value_ok(hex("cf ff ff ff ff ff ff ff ff"));
    ASSERT_TRUE(big.is_uint64());
    EXPECT_EQ(big.get_uint64(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(value_ok(hex("d0 df")), json::value(-33));
    EXPECT_EQ(value_ok(hex("d0 05")), json::value(5));
    EXPECT_EQ(value_ok(hex("d3 80 00 00 00 00 00 00 00")),
              json::value(std::numeric_limits<std::int64_t>::min()));
}

TEST(messagepack_values, doubles_are_float64) {
    EXPECT_EQ(value_bytes(1.5), hex("cb 3f f8 00 00 00 00 00 00"));
    EXPECT_EQ(value_ok(hex("cb 3f f8 00 00 00 00 00 00")), json::value(1.5));
    EXPECT_EQ(value_ok(hex("ca 3f c0 00 00")), json::value(1.5));
    EXPECT_EQ(value_ok(hex("ca 3d cc cc cd")).get_double(), static_cast<double>(0.1f));
    EXPECT_TRUE(std::isnan(value_ok(hex("cb 7f f8 00 00 00 00 00 00")).get_double()));
    const auto negative_zero = value_ok(value_bytes(-0.0));
    EXPECT_TRUE(std::signbit(negative_zero.get_double()));
}

TEST(messagepack_values, scalars_strings_and_containers) {
    EXPECT_EQ(value_bytes(nullptr), hex("c0"));
    EXPECT_EQ(value_bytes(true), hex("c3"));
    EXPECT_EQ(value_bytes(false), hex("c2"));
    EXPECT_EQ(value_bytes("hi"), hex("a2 68 69"));
    EXPECT_EQ(value_bytes(json::parse(R"({"a":[1,null]})")), hex("81 a1 61 92 01 c0"));
    EXPECT_EQ(value_ok(hex("81 a1 61 92 01 c0")), json::parse(R"({"a":[1,null]})"));
    EXPECT_EQ(value_ok(hex("dc 00 02 01 02")), json::parse("[1,2]"));
    EXPECT_EQ(value_ok(hex("dd 00 00 00 01 c3")), json::parse("[true]"));
    EXPECT_EQ(value_ok(hex("de 00 01 a1 6b 01")), json::parse(R"({"k":1})"));
    EXPECT_EQ(value_ok(hex("d9 01 7a")), json::value("z"));
    EXPECT_EQ(value_ok(hex("db 00 00 00 01 7a")), json::value("z"));
    // A repeated key keeps its last value.
    EXPECT_EQ(value_ok(hex("82 a1 6b 01 a1 6b 02")), json::parse(R"({"k":2})"));
    // Strings keep NUL; invalid UTF-8 becomes U+FFFD, as .NET decodes it.
    EXPECT_EQ(value_ok(hex("a2 00 ff")).get_string(), std::string_view("\0\xEF\xBF\xBD", 4));
    // A big container of small values.
    json::array many;
    for (int i = 0; i < 70000; ++i) {
        many.emplace_back(i % 3 == 0 ? json::value(i) : json::value("s"));
    }
    EXPECT_EQ(value_ok(value_bytes(many)), json::value(many));
}

TEST(messagepack_values, parse_value_wants_exactly_one_value) {
    EXPECT_FALSE(parse_messagepack_value(""));
    EXPECT_FALSE(parse_messagepack_value(hex("01 02")));
    EXPECT_FALSE(parse_messagepack_value(hex("92 01")));
}

TEST(messagepack_values, binary_round_trip) {
    const std::vector<std::uint8_t> bytes = {0x00, 0x01, 0xfe, 0xff};
    const auto value = value_ok(hex("c4 04 00 01 fe ff"));
    const auto* data = as_binary(value);
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(std::string_view(*data), hex("00 01 fe ff"));
    EXPECT_EQ(value_bytes(value), hex("c4 04 00 01 fe ff"));
    EXPECT_EQ(value_bytes(make_binary(bytes)), hex("c4 04 00 01 fe ff"));
    EXPECT_EQ(value_bytes(make_binary(std::string_view())), hex("c4 00"));

    EXPECT_EQ(as_binary(value_ok(hex("c5 00 02 61 62")))->size(), 2u);
    EXPECT_EQ(as_binary(value_ok(hex("c6 00 00 00 01 61")))->size(), 1u);

    const std::string large(300, '\x7f');
    EXPECT_EQ(value_bytes(make_binary(large)), hex("c5 01 2c") + large);
    const std::string huge(70000, '\x01');
    EXPECT_EQ(value_bytes(make_binary(huge)), hex("c6 00 01 11 70") + huge);
    EXPECT_EQ(*as_binary(value_ok(value_bytes(make_binary(huge)))), huge);

    EXPECT_FALSE(parse_messagepack_value(hex("c4 05 00")));
    EXPECT_FALSE(parse_messagepack_value(hex("c5 00")));
}

TEST(messagepack_values, binary_in_a_message) {
    // What MessagePack-CSharp writes for a byte[] argument.
    const std::string body = hex("96 01 80 c0 a6 6d 65 74 68 6f 64 91 c4 03 01 02 03 90");
    const auto m = std::get<invocation_message>(parse_ok(body));
    const auto* data = as_binary(m.arguments.at(0));
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(std::string_view(*data), hex("01 02 03"));
    EXPECT_EQ(write(m), framed(body));
}

struct timestamp_case {
    const char* bytes_hex;
    std::int64_t seconds;
    std::uint32_t nanoseconds;
};

TEST(messagepack_values, timestamps_use_the_smallest_format) {
    const timestamp_case cases[] = {
        // timestamp 32
        {"d6 ff 00 00 00 00", 0, 0},
        {"d6 ff 3c a8 34 5f", 1017656415, 0},
        {"d6 ff ff ff ff ff", 4294967295, 0},
        // timestamp 64
        {"d7 ff 00 00 00 04 00 00 00 00", 0, 1},
        {"d7 ff 00 00 00 01 00 00 00 00", 4294967296, 0},
        {"d7 ff 1d 6f 34 54 3c a8 34 5f", 1017656415, 123456789},
        {"d7 ff ee 6b 27 fc 3c a8 34 5f", 1017656415, 999999999},
        {"d7 ff 00 00 00 03 ff ff ff ff", 17179869183, 0},
        // timestamp 96
        {"c7 0c ff 00 00 00 00 00 00 00 04 00 00 00 00", 17179869184, 0},
        {"c7 0c ff 00 00 00 00 ff ff ff ff ff ff ff ff", -1, 0},
        {"c7 0c ff 00 00 00 01 ff ff ff ff ff ff ff ff", -1, 1},
        {"c7 0c ff 00 00 00 00 ff ff ff f1 88 6e 09 00", -62135596800, 0},
        {"c7 0c ff 3b 9a c9 ff 7f ff ff ff ff ff ff ff", std::numeric_limits<std::int64_t>::max(),
         999999999},
        {"c7 0c ff 00 00 00 00 80 00 00 00 00 00 00 00", std::numeric_limits<std::int64_t>::min(),
         0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.bytes_hex);
        const auto value = value_ok(hex(c.bytes_hex));
        const auto time = as_timestamp(value);
        ASSERT_TRUE(time);
        EXPECT_EQ(time->seconds, c.seconds);
        EXPECT_EQ(time->nanoseconds, c.nanoseconds);
        EXPECT_EQ(value_bytes(make_timestamp(c.seconds, c.nanoseconds)), hex(c.bytes_hex));
        EXPECT_EQ(value_bytes(value), hex(c.bytes_hex));
    }
}

TEST(messagepack_values, timestamps_in_larger_formats_are_read) {
    // timestamp 96 holding what 32 bits could: read, then written in the smaller format.
    const auto value = value_ok(hex("c7 0c ff 00 00 00 00 00 00 00 00 3c a8 34 5f"));
    EXPECT_EQ(as_timestamp(value), (timestamp{1017656415, 0}));
    EXPECT_EQ(value_bytes(value), hex("d6 ff 3c a8 34 5f"));
    // timestamp 64 as ext 8 rather than fixext 8.
    EXPECT_EQ(as_timestamp(value_ok(hex("c7 08 ff 00 00 00 04 00 00 00 00"))), (timestamp{0, 1}));
}

TEST(messagepack_values, timestamp_in_a_message_renders_for_json_clients) {
    const std::string body = hex("94 02 80 a1 31 d6 ff 3c a8 34 5f");
    const auto m = std::get<stream_item_message>(parse_ok(body));
    EXPECT_EQ(as_timestamp(m.item), (timestamp{1017656415, 0}));
    EXPECT_EQ(write(m), framed(body));
}

TEST(messagepack_values, malformed_tagged_objects_are_plain_maps) {
    json::object not_binary;
    not_binary.emplace(binary_marker, 5);
    EXPECT_EQ(value_bytes(not_binary), hex("81 a4 00 62 69 6e 05"));
    json::object not_timestamp;
    not_timestamp.emplace(timestamp_marker, json::array{1, 1000000000});
    EXPECT_EQ(value_bytes(not_timestamp), hex("81 a3 00 74 73 92 01 ce 3b 9a ca 00"));
}

}  // namespace
}  // namespace switchboard::protocol
