#include "protocol/handshake.hpp"
#include "protocol/text_framing.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <string>

namespace switchboard::protocol {
namespace {

struct valid_case {
    std::string record;
    std::string protocol;
    std::int64_t version;
};

// Spec §15.1 (HandshakeProtocolTests) and the JS client handshakes of §15.3.
const valid_case valid_cases[] = {
    {R"({"protocol":"dummy","version":1})", "dummy", 1},
    {R"({"protocol":"","version":10,"unknown":null})", "", 10},
    {R"({"protocol":"firstProtocol","protocol":"secondProtocol","version":1,"version":75})",
     "secondProtocol", 75},
    {R"({"protocol":"dummy","version":1}{"protocol":"wrong","version":99})", "dummy", 1},
    {R"({"\u0070rotoco\u006c":"\u0064ummy","version":1})", "dummy", 1},
    {R"({"protocol":"json","version":1})", "json", 1},
    {R"({"protocol":"messagepack","version":2})", "messagepack", 2},
    {R"({"version":2,"protocol":"json"})", "json", 2},
    {R"( { "protocol" : "json" , "version" : 1 } )", "json", 1},
    {R"({"protocol":"json","version":1,"extra":{"nested":[1,2,{"a":null}]}})", "json", 1},
    {R"({"protocol":"json","version":-2147483648})", "json", -2147483648LL},
};

TEST(handshake, parses_valid_requests) {
    for (const auto& c : valid_cases) {
        SCOPED_TRACE(c.record);
        auto request = parse_handshake_request(c.record);
        ASSERT_TRUE(request) << request.error_message();
        EXPECT_EQ(request->protocol, c.protocol);
        EXPECT_EQ(request->version, c.version);
    }
}

struct invalid_case {
    std::string record;
    std::string error;
};

const invalid_case invalid_cases[] = {
    {"{}", "Missing required property 'protocol'. Message content: {}"},
    {R"({"protocol":"json"})",
     R"(Missing required property 'version'. Message content: {"protocol":"json"})"},
    {R"({"version":1})", R"(Missing required property 'protocol'. Message content: {"version":1})"},
    {R"({"protocol":"json","version":null})",
     R"(Missing required property 'version'. Message content: {"protocol":"json","version":null})"},
    {R"({"version":"123"})", "Expected 'version' to be of type Number."},
    {R"({"protocol":"json","version":1.5})", "Expected 'version' to be of type Number."},
    {R"({"protocol":"json","version":2147483648})", "Expected 'version' to be of type Number."},
    {R"({"protocol":"json","version":true})", "Expected 'version' to be of type Number."},
    {R"({"protocol":1,"version":1})", "Expected 'protocol' to be of type String."},
    {R"({"protocol":null,"version":1})", "Expected 'protocol' to be of type String."},
    {"42", "Unexpected JSON Token Type 'Number'. Expected a JSON Object."},
    {"null", "Unexpected JSON Token Type 'Null'. Expected a JSON Object."},
    {"\"json\"", "Unexpected JSON Token Type 'String'. Expected a JSON Object."},
    {"[]", "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
    {"", "Error reading JSON."},
    {"   ", "Error reading JSON."},
    {R"({"protocol":"json","version":1)", "Error reading JSON."},
    {R"({"protocol":"json",})", "Error reading JSON."},
    {"{\"protocol\":\"\xff\",\"version\":1}", "Error reading JSON."},
};

TEST(handshake, reports_exact_errors) {
    for (const auto& c : invalid_cases) {
        SCOPED_TRACE(c.record);
        auto request = parse_handshake_request(c.record);
        ASSERT_FALSE(request);
        EXPECT_EQ(request.error_message(), c.error);
    }
}

// Found by handshake_fuzz: the error quotes the record, whose bytes after the JSON object may
// be anything; the response must stay valid JSON, with U+FFFD for invalid UTF-8.
TEST(handshake, error_quoting_invalid_utf8_stays_valid_json) {
    const auto request = parse_handshake_request("{}o\xc9\xc9");
    ASSERT_FALSE(request);
    EXPECT_EQ(request.error_message(),
              "Missing required property 'protocol'. Message content: {}o\xEF\xBF\xBD\xEF\xBF\xBD");
    std::string response;
    write_handshake_response(request.error_message(), response);
    boost::system::error_code ec;
    boost::json::parse(std::string_view(response).substr(0, response.size() - 1), ec);
    EXPECT_FALSE(ec) << response;
}

TEST(handshake, incomplete_request_waits_for_more_data) {
    text_frame_reader reader(32 * 1024);
    reader.append("42");
    std::string_view record;
    EXPECT_EQ(reader.next(record), text_frame_reader::status::need_more);
}

TEST(handshake, messages_after_the_handshake_in_the_same_frame_are_kept) {
    text_frame_reader reader(32 * 1024);
    reader.append("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), text_frame_reader::status::record);
    auto request = parse_handshake_request(record);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->protocol, "json");
    ASSERT_EQ(reader.next(record), text_frame_reader::status::record);
    EXPECT_EQ(record, "{\"type\":6}");
}

TEST(handshake, writes_success_response) {
    std::string out;
    write_handshake_response(std::nullopt, out);
    EXPECT_EQ(out, std::string("{}\x1e"));
    EXPECT_EQ(out.size(), 3u);
}

TEST(handshake, writes_error_response) {
    std::string out;
    write_handshake_response("dummy", out);
    EXPECT_EQ(out, "{\"error\":\"dummy\"}\x1e");
}

TEST(handshake, error_response_is_escaped) {
    std::string out;
    write_handshake_response("The protocol 'a\"b\\c\n' is not supported.", out);
    EXPECT_EQ(out, "{\"error\":\"The protocol 'a\\\"b\\\\c\\n' is not supported.\"}\x1e");
}

TEST(handshake, response_appends_to_existing_output) {
    std::string out = "x";
    write_handshake_response(std::nullopt, out);
    write_handshake_response("Handshake was canceled.", out);
    EXPECT_EQ(out, "x{}\x1e{\"error\":\"Handshake was canceled.\"}\x1e");
}

}  // namespace
}  // namespace switchboard::protocol
