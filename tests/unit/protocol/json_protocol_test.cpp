#include "protocol/json_protocol.hpp"
#include "protocol/json_text.hpp"
#include "protocol/text_framing.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace switchboard::protocol {
namespace {

namespace json = boost::json;

hub_message parse_ok(std::string_view record) {
    auto message = parse_json_message(record);
    EXPECT_TRUE(message) << record << ": " << (message ? "" : message.error_message());
    return message ? std::move(*message) : hub_message(unknown_message{-1});
}

std::string write(const hub_message& message) {
    std::string out;
    write_json_message(message, out);
    return out;
}

json::array arguments(std::string_view text) {
    return json::parse(text).as_array();
}

// Spec §15.2: the ASP.NET writer's output, which must also be our parser's input and our
// writer's output, byte for byte.
struct round_trip_case {
    std::string framed;
    message_type type;
};

void PrintTo(const round_trip_case& c, std::ostream* os) {
    *os << c.framed;
}

// The variant alternative that holds each message type.
std::size_t index_of(message_type type) {
    switch (type) {
    case message_type::invocation:
        return 0;
    case message_type::stream_invocation:
        return 1;
    case message_type::stream_item:
        return 2;
    case message_type::completion:
        return 3;
    case message_type::cancel_invocation:
        return 4;
    case message_type::ping:
        return 5;
    case message_type::close:
        return 6;
    case message_type::ack:
        return 7;
    case message_type::sequence:
        return 8;
    }
    return 9;
}

class json_round_trip : public ::testing::TestWithParam<round_trip_case> {};

TEST_P(json_round_trip, parses_and_writes_the_same_bytes) {
    const auto& c = GetParam();
    ASSERT_EQ(c.framed.back(), record_separator);
    const std::string_view record(c.framed.data(), c.framed.size() - 1);
    auto message = parse_json_message(record);
    ASSERT_TRUE(message) << message.error_message();
    EXPECT_EQ(message->index(), index_of(c.type));
    EXPECT_EQ(write(*message), c.framed);
}

INSTANTIATE_TEST_SUITE_P(
    aspnet_vectors, json_round_trip,
    ::testing::Values(
        round_trip_case{"{\"type\":1,\"invocationId\":\"123\",\"target\":\"Target\","
                        "\"arguments\":[1,\"Foo\"]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":1,\"target\":\"Target\",\"arguments\":[true]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":1,\"target\":\"Target\",\"arguments\":[null]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":1,\"target\":\"Target\",\"arguments\":[42],"
                        "\"streamIds\":[\"__test_id__\"]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":1,\"target\":\"Target\",\"arguments\":[],"
                        "\"streamIds\":[\"__test_id__\",\"__test_id2__\"]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":2,\"invocationId\":\"123\",\"item\":1}\x1e",
                        message_type::stream_item},
        round_trip_case{"{\"type\":2,\"invocationId\":\"123\",\"item\":null}\x1e",
                        message_type::stream_item},
        round_trip_case{"{\"type\":3,\"invocationId\":\"123\"}\x1e", message_type::completion},
        round_trip_case{"{\"type\":3,\"invocationId\":\"123\",\"result\":1}\x1e",
                        message_type::completion},
        round_trip_case{"{\"type\":3,\"invocationId\":\"123\",\"result\":null}\x1e",
                        message_type::completion},
        round_trip_case{"{\"type\":3,\"invocationId\":\"123\",\"error\":\"Whoops!\"}\x1e",
                        message_type::completion},
        round_trip_case{"{\"type\":3,\"headers\":{\"Foo\":\"Bar\",\"KeyWith\\nNew\\r\\nLines\":"
                        "\"Still Works\",\"ValueWithNewLines\":\"Also\\nWorks\\r\\nFine\"},"
                        "\"invocationId\":\"123\",\"error\":\"Whoops!\"}\x1e",
                        message_type::completion},
        round_trip_case{"{\"type\":4,\"invocationId\":\"123\",\"target\":\"Target\","
                        "\"arguments\":[1,\"Foo\"]}\x1e",
                        message_type::stream_invocation},
        round_trip_case{"{\"type\":4,\"invocationId\":\"123\",\"target\":\"Target\",\"arguments\":"
                        "[],\"streamIds\":[\"__test_id__\"]}\x1e",
                        message_type::stream_invocation},
        round_trip_case{"{\"type\":5,\"invocationId\":\"123\"}\x1e",
                        message_type::cancel_invocation},
        round_trip_case{"{\"type\":6}\x1e", message_type::ping},
        round_trip_case{"{\"type\":7}\x1e", message_type::close},
        round_trip_case{"{\"type\":7,\"error\":\"Error!\"}\x1e", message_type::close},
        round_trip_case{"{\"type\":7,\"error\":\"\"}\x1e", message_type::close},
        round_trip_case{"{\"type\":7,\"allowReconnect\":true}\x1e", message_type::close},
        round_trip_case{"{\"type\":7,\"error\":\"Error!\",\"allowReconnect\":true}\x1e",
                        message_type::close},
        round_trip_case{"{\"type\":8,\"sequenceId\":1394}\x1e", message_type::ack},
        round_trip_case{"{\"type\":9,\"sequenceId\":1234}\x1e", message_type::sequence},
        // Spec §7 and §15.5: what this server itself sends most.
        round_trip_case{"{\"type\":3,\"invocationId\":\"0\",\"result\":\"hi\"}\x1e",
                        message_type::completion},
        round_trip_case{"{\"type\":1,\"target\":\"Message\",\"arguments\":[\"hi\"]}\x1e",
                        message_type::invocation},
        round_trip_case{"{\"type\":1,\"invocationId\":\"s1\",\"target\":\"Result\","
                        "\"arguments\":[{\"a\":[1,2.5,-3,\"x\\\"y\"],\"b\":{}}]}\x1e",
                        message_type::invocation}));

TEST(json_protocol, invocation_fields) {
    auto message =
        parse_ok(R"({"type":1,"invocationId":"123","target":"Target","arguments":[1,"Foo"],)"
                 R"("streamIds":["a","b"]})");
    const auto& m = std::get<invocation_message>(message);
    EXPECT_EQ(m.invocation_id, "123");
    EXPECT_EQ(m.target, "Target");
    EXPECT_EQ(m.arguments, arguments(R"([1,"Foo"])"));
    EXPECT_EQ(m.stream_ids, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(m.headers.empty());
}

TEST(json_protocol, invocation_without_id_is_non_blocking) {
    auto message = parse_ok(R"({"type":1,"target":"Target","arguments":[]})");
    EXPECT_FALSE(std::get<invocation_message>(message).invocation_id.has_value());
}

TEST(json_protocol, empty_invocation_id_means_no_id) {
    auto message = parse_ok(R"({"type":1,"invocationId":"","target":"T","arguments":[]})");
    EXPECT_FALSE(std::get<invocation_message>(message).invocation_id.has_value());
    EXPECT_EQ(write(message), "{\"type\":1,\"target\":\"T\",\"arguments\":[]}\x1e");
}

TEST(json_protocol, completion_distinguishes_null_result_from_no_result) {
    auto with_null = parse_ok(R"({"type":3,"invocationId":"1","result":null})");
    const auto& a = std::get<completion_message>(with_null);
    ASSERT_TRUE(a.result.has_value());
    EXPECT_TRUE(a.result->is_null());
    EXPECT_FALSE(a.error.has_value());

    auto without = parse_ok(R"({"type":3,"invocationId":"1"})");
    const auto& b = std::get<completion_message>(without);
    EXPECT_FALSE(b.result.has_value());
    EXPECT_FALSE(b.error.has_value());
}

TEST(json_protocol, completion_error) {
    auto message = parse_ok(R"({"type":3,"invocationId":"1","error":"Whoops!"})");
    const auto& m = std::get<completion_message>(message);
    EXPECT_EQ(m.error, "Whoops!");
    EXPECT_FALSE(m.result.has_value());
}

TEST(json_protocol, headers_keep_order_and_decode_escapes) {
    auto message = parse_ok(
        R"({"type":3,"headers":{"Foo":"Bar","KeyWith\nNew\r\nLines":"Still Works",)"
        R"("ValueWithNewLines":"Also\nWorks\r\nFine"},"invocationId":"123","error":"Whoops!"})");
    const auto& m = std::get<completion_message>(message);
    const message_headers expected = {
        {"Foo", "Bar"},
        {"KeyWith\nNew\r\nLines", "Still Works"},
        {"ValueWithNewLines", "Also\nWorks\r\nFine"},
    };
    EXPECT_EQ(m.headers, expected);
}

TEST(json_protocol, duplicate_header_keeps_first_position_and_last_value) {
    auto message = parse_ok(R"({"type":5,"invocationId":"1","headers":{"a":"1","b":"2","a":"3"}})");
    const message_headers expected = {{"a", "3"}, {"b", "2"}};
    EXPECT_EQ(std::get<cancel_invocation_message>(message).headers, expected);
}

TEST(json_protocol, headers_on_every_invocation_kind) {
    const char* records[] = {
        R"({"type":1,"headers":{"h":"v"},"target":"T","arguments":[]})",
        R"({"type":4,"headers":{"h":"v"},"invocationId":"1","target":"T","arguments":[]})",
        R"({"type":2,"headers":{"h":"v"},"invocationId":"1","item":1})",
        R"({"type":3,"headers":{"h":"v"},"invocationId":"1"})",
        R"({"type":5,"headers":{"h":"v"},"invocationId":"1"})",
    };
    for (const char* record : records) {
        SCOPED_TRACE(record);
        auto message = parse_ok(record);
        EXPECT_EQ(write(message), std::string(record) + "\x1e");
    }
}

TEST(json_protocol, headers_are_ignored_on_ping_and_close) {
    EXPECT_EQ(write(parse_ok(R"({"type":6,"headers":{"h":"v"}})")), "{\"type\":6}\x1e");
    EXPECT_EQ(write(parse_ok(R"({"type":7,"headers":{"h":"v"}})")), "{\"type\":7}\x1e");
}

TEST(json_protocol, empty_headers_object_is_not_written) {
    auto message = parse_ok(R"({"type":5,"headers":{},"invocationId":"1"})");
    EXPECT_EQ(write(message), "{\"type\":5,\"invocationId\":\"1\"}\x1e");
}

// Spec §15.2 OutOfOrderJsonTestData.
TEST(json_protocol, out_of_order_properties) {
    {
        auto message = parse_ok(R"({ "arguments": [1,2], "type":1, "target": "Method" })");
        const auto& m = std::get<invocation_message>(message);
        EXPECT_EQ(m.target, "Method");
        EXPECT_EQ(m.arguments, arguments("[1,2]"));
        EXPECT_FALSE(m.invocation_id);
    }
    {
        auto message = parse_ok(R"({ "type":4, "arguments": [1,2], "target": "Method", )"
                                R"("invocationId": "3" })");
        const auto& m = std::get<stream_invocation_message>(message);
        EXPECT_EQ(m.invocation_id, "3");
        EXPECT_EQ(m.target, "Method");
        EXPECT_EQ(m.arguments, arguments("[1,2]"));
    }
    {
        auto message = parse_ok(R"({ "type":3, "result": 10, "invocationId": "15" })");
        const auto& m = std::get<completion_message>(message);
        EXPECT_EQ(m.invocation_id, "15");
        ASSERT_TRUE(m.result);
        EXPECT_EQ(*m.result, json::value(10));
    }
    {
        auto message = parse_ok(R"({ "item": "foo", "invocationId": "1a", "type":2 })");
        const auto& m = std::get<stream_item_message>(message);
        EXPECT_EQ(m.invocation_id, "1a");
        EXPECT_EQ(m.item, json::value("foo"));
    }
}

TEST(json_protocol, unknown_properties_are_ignored) {
    auto message = parse_ok(
        R"({"type":1,"extraParameter":"1","target":"T","arguments":[],"x":{"deep":[null,{}]}})");
    EXPECT_EQ(std::get<invocation_message>(message).target, "T");
}

// Spec §15.3: what the JS client 10.0.11 sends, with "type" last.
TEST(json_protocol, js_client_messages) {
    {
        auto message =
            parse_ok(R"({"target":"Echo","arguments":["hi"],"invocationId":"0","type":1})");
        const auto& m = std::get<invocation_message>(message);
        EXPECT_EQ(m.target, "Echo");
        EXPECT_EQ(m.invocation_id, "0");
        EXPECT_EQ(m.arguments, arguments(R"(["hi"])"));
        EXPECT_EQ(write(message),
                  "{\"type\":1,\"invocationId\":\"0\",\"target\":\"Echo\",\"arguments\":[\"hi\"]}"
                  "\x1e");
    }
    {
        auto message = parse_ok(R"({"target":"Echo","arguments":["hi"],"type":1})");
        EXPECT_FALSE(std::get<invocation_message>(message).invocation_id);
    }
    {
        auto message = parse_ok(R"({"target":"StreamingConcat","arguments":[],"invocationId":"1",)"
                                R"("streamIds":["2"],"type":1})");
        const auto& m = std::get<invocation_message>(message);
        EXPECT_EQ(m.stream_ids, std::vector<std::string>{"2"});
        EXPECT_TRUE(m.arguments.empty());
    }
    {
        auto message =
            parse_ok(R"({"target":"Stream","arguments":[],"invocationId":"2","type":4})");
        EXPECT_EQ(std::get<stream_invocation_message>(message).invocation_id, "2");
    }
    {
        auto message = parse_ok(R"({"invocationId":"1","item":"Hello ","type":2})");
        EXPECT_EQ(std::get<stream_item_message>(message).item, json::value("Hello "));
    }
    {
        auto message = parse_ok(R"({"invocationId":"1","type":3})");
        const auto& m = std::get<completion_message>(message);
        EXPECT_FALSE(m.result);
        EXPECT_FALSE(m.error);
    }
    {
        auto message = parse_ok(R"({"error":"Something bad","invocationId":"1","type":3})");
        EXPECT_EQ(std::get<completion_message>(message).error, "Something bad");
    }
    {
        auto message = parse_ok(R"({"invocationId":"s1","result":10,"type":3})");
        EXPECT_EQ(std::get<completion_message>(message).result, json::value(10));
    }
    {
        auto message = parse_ok(R"({"invocationId":"s1","result":null,"type":3})");
        const auto& m = std::get<completion_message>(message);
        ASSERT_TRUE(m.result);
        EXPECT_TRUE(m.result->is_null());
    }
    {
        auto message =
            parse_ok(R"({"error":"Client didn't provide a result.","invocationId":"s1","type":3})");
        EXPECT_EQ(std::get<completion_message>(message).error, "Client didn't provide a result.");
    }
    {
        auto message = parse_ok(R"({"invocationId":"0","type":5})");
        EXPECT_EQ(std::get<cancel_invocation_message>(message).invocation_id, "0");
    }
    EXPECT_TRUE(std::holds_alternative<close_message>(parse_ok(R"({"type":7})")));
    EXPECT_TRUE(std::holds_alternative<ping_message>(parse_ok(R"({"type":6})")));
    EXPECT_EQ(std::get<ack_message>(parse_ok(R"({"type":8,"sequenceId":1})")).sequence_id, 1);
    EXPECT_EQ(std::get<sequence_message>(parse_ok(R"({"type":9,"sequenceId":1})")).sequence_id, 1);
}

TEST(json_protocol, close_fields) {
    {
        auto message = parse_ok(R"({"type":7,"error":"Error!","allowReconnect":true})");
        const auto& m = std::get<close_message>(message);
        EXPECT_EQ(m.error, "Error!");
        EXPECT_TRUE(m.allow_reconnect);
    }
    {
        auto message = parse_ok(R"({"type":7,"error":"","allowReconnect":false})");
        const auto& m = std::get<close_message>(message);
        EXPECT_EQ(m.error, "");
        EXPECT_FALSE(m.allow_reconnect);
        EXPECT_EQ(write(message), "{\"type\":7,\"error\":\"\"}\x1e");
    }
}

TEST(json_protocol, unknown_type_is_returned_as_unknown_message) {
    auto message = parse_ok(R"({"type":42,"anything":[1]})");
    EXPECT_EQ(std::get<unknown_message>(message).type, 42);
    EXPECT_EQ(std::get<unknown_message>(parse_ok(R"({"type":0})")).type, 0);
    EXPECT_EQ(std::get<unknown_message>(parse_ok(R"({"type":-1})")).type, -1);
    EXPECT_EQ(write(message), "{\"type\":42}\x1e");
}

TEST(json_protocol, duplicate_keys_last_wins) {
    auto message = parse_ok(R"({"type":5,"type":6})");
    EXPECT_TRUE(std::holds_alternative<ping_message>(message));
    auto invocation = parse_ok(R"({"type":1,"target":"a","target":"b","arguments":[]})");
    EXPECT_EQ(std::get<invocation_message>(invocation).target, "b");
}

TEST(json_protocol, escaped_property_names_are_decoded) {
    auto message = parse_ok(R"({"\u0074ype":6})");
    EXPECT_TRUE(std::holds_alternative<ping_message>(message));
}

TEST(json_protocol, bytes_after_the_object_are_ignored) {
    // ASP.NET's reader stops at the end of the first object, as for the handshake.
    auto message = parse_ok(R"({"type":6} trailing)");
    EXPECT_TRUE(std::holds_alternative<ping_message>(message));
}

TEST(json_protocol, nesting_up_to_64_levels_is_accepted) {
    std::string record = R"({"type":2,"invocationId":"1","item":)";
    record += std::string(63, '[') + std::string(63, ']') + "}";
    EXPECT_TRUE(parse_json_message(record));
}

struct invalid_case {
    std::string record;
    std::string error;
};

const invalid_case invalid_cases[] = {
    // Spec §15.2 InvalidMessages / CustomInvalidMessages.
    {"{}", "Missing required property 'type'."},
    {R"({"type":1})", "Missing required property 'target'."},
    {R"({"type":1,"invocationId":42})", "Expected 'invocationId' to be of type String."},
    {R"({"type":1,"invocationId":"42","target":"foo"})", "Missing required property 'arguments'."},
    {R"({"type":1,"invocationId":"42","target":"foo","arguments":{}})",
     "Expected 'arguments' to be of type Array."},
    {R"({"type":2,"invocationId":"42"})", "Missing required property 'item'."},
    {R"({"type":3,"invocationId":"42","error":"foo","result":true})",
     "The 'error' and 'result' properties are mutually exclusive."},
    {R"({"type":"foo"})", "Expected 'type' to be of type Number."},
    {R"({"type":8,"sequenceId":true})", "Expected 'sequenceId' to be of type Number."},
    {"null", "Unexpected JSON Token Type 'Null'. Expected a JSON Object."},
    {"", "Error reading JSON."},
    // Top-level kinds, with the names ASP.NET prints.
    {"42", "Unexpected JSON Token Type 'Number'. Expected a JSON Object."},
    {"-1.5e3", "Unexpected JSON Token Type 'Number'. Expected a JSON Object."},
    {"\"x\"", "Unexpected JSON Token Type 'String'. Expected a JSON Object."},
    {"true", "Unexpected JSON Token Type 'True'. Expected a JSON Object."},
    {"false", "Unexpected JSON Token Type 'False'. Expected a JSON Object."},
    {"[]", "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
    {" [1,", "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
    // Malformed JSON.
    {" \r\n\t", "Error reading JSON."},
    {"{", "Error reading JSON."},
    {R"({"type":1,})", "Error reading JSON."},
    {R"({"type":1 /* c */})", "Error reading JSON."},
    {"{'type':1}", "Error reading JSON."},
    {"nul", "Error reading JSON."},
    {"{\"type\":6,\"x\":\"\xc3\x28\"}", "Error reading JSON."},
    {std::string("{\"type\":6,\"x\":\"a\0b\"}", 20), "Error reading JSON."},
    {std::string(65, '['), "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
    // Type checks of every known property, in document order.
    {R"({"type":null})", "Expected 'type' to be of type Number."},
    {R"({"type":1.5})", "Expected 'type' to be of type Number."},
    {R"({"type":1e0})", "Expected 'type' to be of type Number."},
    {R"({"type":2147483648})", "Expected 'type' to be of type Number."},
    {R"({"type":[1]})", "Expected 'type' to be of type Number."},
    {R"({"type":6,"invocationId":null})", "Expected 'invocationId' to be of type String."},
    {R"({"type":1,"target":1,"arguments":[]})", "Expected 'target' to be of type String."},
    {R"({"type":7,"error":false})", "Expected 'error' to be of type String."},
    {R"({"type":7,"allowReconnect":"true"})", "Expected 'allowReconnect' to be true or false."},
    {R"({"type":1,"target":"T","arguments":null})", "Expected 'arguments' to be of type Array."},
    {R"({"type":1,"target":"T","arguments":[],"streamIds":"a"})",
     "Expected 'streamIds' to be of type Array."},
    {R"({"type":1,"target":"T","arguments":[],"streamIds":[null]})",
     "Null value for 'streamIds' is not valid."},
    {R"({"type":1,"target":"T","arguments":[],"streamIds":[1]})",
     "Cannot get the value of a token type 'Number' as a string."},
    {R"({"type":1,"target":"T","arguments":[],"streamIds":[["a"]]})",
     "Cannot get the value of a token type 'StartArray' as a string."},
    {R"({"type":1,"headers":[],"target":"T","arguments":[]})",
     "Expected 'headers' to be of type StartObject."},
    {R"({"type":1,"headers":{"Foo":1},"target":"T","arguments":[]})",
     "Expected header 'Foo' to be of type String."},
    {R"({"type":1,"headers":{"Foo":null},"target":"T","arguments":[]})",
     "Expected header 'Foo' to be of type String."},
    {R"({"type":8,"sequenceId":"1"})", "Expected 'sequenceId' to be of type Number."},
    {R"({"type":8,"sequenceId":1.5})", "Expected 'sequenceId' to be of type Number."},
    {R"({"type":8,"sequenceId":9223372036854775808})",
     "Expected 'sequenceId' to be of type Number."},
    {R"({"invocationId":1,"type":"x"})", "Expected 'invocationId' to be of type String."},
    // Required properties per type.
    {R"({"type":1,"target":"","arguments":[]})", "Missing required property 'target'."},
    {R"({"type":1,"arguments":[]})", "Missing required property 'target'."},
    {R"({"type":4})", "Missing required property 'target'."},
    {R"({"type":4,"target":"T","arguments":[]})", "Missing required property 'invocationId'."},
    {R"({"type":4,"invocationId":"","target":"T","arguments":[]})",
     "Missing required property 'invocationId'."},
    {R"({"type":4,"invocationId":"1","target":"T"})", "Missing required property 'arguments'."},
    {R"({"type":4,"invocationId":"1","target":"","arguments":[]})",
     "Missing required property 'target'."},
    {R"({"type":2,"item":1})", "Missing required property 'invocationId'."},
    {R"({"type":2,"invocationId":"","item":1})", "Missing required property 'invocationId'."},
    {R"({"type":3})", "Missing required property 'invocationId'."},
    {R"({"type":3,"invocationId":"","result":1})", "Missing required property 'invocationId'."},
    {R"({"type":3,"invocationId":"1","result":null,"error":""})",
     "The 'error' and 'result' properties are mutually exclusive."},
    {R"({"type":5})", "Missing required property 'invocationId'."},
    {R"({"type":8})", "Missing required property 'sequenceId'."},
    {R"({"type":9,"sequenceId":null})", "Missing required property 'sequenceId'."},
    {R"({"target":"T","arguments":[]})", "Missing required property 'type'."},
};

TEST(json_protocol, reports_exact_errors) {
    for (const auto& c : invalid_cases) {
        SCOPED_TRACE(c.record);
        auto message = parse_json_message(c.record);
        ASSERT_FALSE(message);
        EXPECT_EQ(message.error_message(), c.error);
    }
}

TEST(json_protocol, too_deep_nesting_fails_cleanly) {
    std::string record = R"({"type":2,"invocationId":"1","item":)";
    record += std::string(64, '[') + std::string(64, ']') + "}";
    auto message = parse_json_message(record);
    ASSERT_FALSE(message);
    EXPECT_EQ(message.error_message(), "Error reading JSON.");

    std::string very_deep = R"({"type":2,"invocationId":"1","item":)" + std::string(100000, '[');
    auto deep = parse_json_message(very_deep);
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error_message(), "Error reading JSON.");
}

// Spec §15.2 MessageSizeData: framed sizes of the ASP.NET writer.
TEST(json_protocol, message_sizes_match_aspnet) {
    const auto one = arguments("[1]");
    const auto size_of = [](const hub_message& message) { return write(message).size(); };

    invocation_message invocation;
    invocation.target = "Target";
    invocation.arguments = one;
    EXPECT_EQ(size_of(invocation), 45u);
    invocation.invocation_id = "1";
    EXPECT_EQ(size_of(invocation), 64u);
    invocation.stream_ids = {"2"};
    EXPECT_EQ(size_of(invocation), 82u);

    EXPECT_EQ(size_of(close_message{}), 11u);
    EXPECT_EQ(size_of(close_message{"error", false}), 27u);

    stream_item_message item;
    item.invocation_id = "1";
    EXPECT_EQ(size_of(item), 42u);
    item.item = 1;
    EXPECT_EQ(size_of(item), 39u);

    EXPECT_EQ(size_of(completion_message::empty("1")), 30u);
    EXPECT_EQ(size_of(completion_message::with_result("1", 1)), 41u);
    EXPECT_EQ(size_of(completion_message::with_error("1", "error")), 46u);

    stream_invocation_message stream;
    stream.invocation_id = "1";
    stream.target = "target";
    EXPECT_EQ(size_of(stream), 63u);
    stream.stream_ids = {"2"};
    EXPECT_EQ(size_of(stream), 81u);

    cancel_invocation_message cancel;
    cancel.invocation_id = "1";
    EXPECT_EQ(size_of(cancel), 30u);
}

TEST(json_protocol, void_method_completion_writes_null_result) {
    EXPECT_EQ(write(completion_message::with_result("0", nullptr)),
              "{\"type\":3,\"invocationId\":\"0\",\"result\":null}\x1e");
    EXPECT_EQ(write(completion_message::empty("0")), "{\"type\":3,\"invocationId\":\"0\"}\x1e");
}

TEST(json_protocol, completion_never_writes_both_error_and_result) {
    auto m = completion_message::with_result("1", 5);
    m.error = "boom";
    EXPECT_EQ(write(m), "{\"type\":3,\"invocationId\":\"1\",\"error\":\"boom\"}\x1e");
}

TEST(json_protocol, writes_several_messages_back_to_back) {
    // Spec §15.5: two messages in one SSE event.
    std::string out;
    write_json_message(completion_message::with_result("0", "hi"), out);
    write_json_message(ping_message{}, out);
    EXPECT_EQ(out, "{\"type\":3,\"invocationId\":\"0\",\"result\":\"hi\"}\x1e{\"type\":6}\x1e");
}

TEST(json_protocol, write_json_invocation_matches_write_json_message) {
    const auto args = arguments(R"([1,"two",{"three":[3.5,null,true]}])");
    std::string fast = "prefix";
    write_json_invocation("Send", args, fast);

    invocation_message m;
    m.target = "Send";
    m.arguments = args;
    EXPECT_EQ(fast, "prefix" + write(m));
    EXPECT_EQ(fast,
              "prefix{\"type\":1,\"target\":\"Send\",\"arguments\":[1,\"two\","
              "{\"three\":[3.5,null,true]}]}\x1e");

    std::string sized;
    write_json_invocation("Target", arguments("[1]"), sized);
    EXPECT_EQ(sized.size(), 45u);
}

TEST(json_protocol, strings_are_escaped) {
    invocation_message m;
    m.target = "q\"b\\s/\b\f\n\r\t\x01\x1e\x1f\x7f é";
    m.arguments.emplace_back(std::string("\x1e"));
    const auto out = write(m);
    EXPECT_EQ(out,
              "{\"type\":1,\"target\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001E\\u001F\x7f é\","
              "\"arguments\":[\"\\u001E\"]}\x1e");
    // Separator bytes inside strings never end the record early.
    EXPECT_EQ(out.find(record_separator), out.size() - 1);
    auto back = parse_ok(std::string_view(out).substr(0, out.size() - 1));
    EXPECT_EQ(std::get<invocation_message>(back).target, m.target);
}

TEST(json_protocol, numbers_are_written_compactly) {
    json::array args;
    args.emplace_back(0.1);
    args.emplace_back(-2.5);
    args.emplace_back(1e21);
    args.emplace_back(100.0);
    args.emplace_back(std::numeric_limits<std::int64_t>::min());
    args.emplace_back(std::numeric_limits<std::uint64_t>::max());
    std::string out;
    write_json_invocation("N", args, out);
    EXPECT_EQ(out,
              "{\"type\":1,\"target\":\"N\",\"arguments\":[0.1,-2.5,1e+21,100,"
              "-9223372036854775808,18446744073709551615]}\x1e");
}

TEST(json_protocol, non_finite_numbers_are_written_as_null) {
    json::array args;
    args.emplace_back(std::numeric_limits<double>::infinity());
    args.emplace_back(-std::numeric_limits<double>::infinity());
    args.emplace_back(std::nan(""));
    std::string out;
    write_json_invocation("N", args, out);
    EXPECT_EQ(out, "{\"type\":1,\"target\":\"N\",\"arguments\":[null,null,null]}\x1e");
}

TEST(json_protocol, overflowing_number_round_trips_as_valid_json) {
    // 1e400 reads as infinity; it must not come back out as the non-JSON "Infinity".
    auto message = parse_ok(R"({"type":3,"invocationId":"1","result":1e400})");
    const auto out = write(message);
    EXPECT_EQ(out, "{\"type\":3,\"invocationId\":\"1\",\"result\":null}\x1e");
    EXPECT_TRUE(parse_json_message(std::string_view(out).substr(0, out.size() - 1)));
}

TEST(json_protocol, doubles_are_read_exactly) {
    // Boost 1.81's own parser reads these one unit in the last place off.
    const char* numbers[] = {"-0.00021945823717141278",  "-102167.84850444621",
                             "-1.9934908051011654e+189", "2.1542687414875476e-293",
                             "0.30000000000000004",      "5e-324",
                             "1.7976931348623157e+308"};
    for (const char* number : numbers) {
        SCOPED_TRACE(number);
        const std::string record =
            std::string(R"({"type":1,"target":"T","arguments":[)") + number + "]}";
        auto message = parse_ok(record);
        EXPECT_EQ(write(message), record + "\x1e");
    }
}

// Found by the fuzzer: -0.0 was written as "-0", which reads back as the integer 0.
TEST(json_protocol, negative_zero_keeps_its_sign) {
    const std::string record = R"({"type":1,"target":"N","arguments":[-0.0,-0,0.0]})";
    const auto first = write(parse_ok(record));
    EXPECT_EQ(first, "{\"type\":1,\"target\":\"N\",\"arguments\":[-0.0,0,0]}\x1e");
    EXPECT_EQ(write(parse_ok(std::string_view(first).substr(0, first.size() - 1))), first);
    const auto message = parse_ok(record);
    const auto& args = std::get<invocation_message>(message).arguments;
    ASSERT_TRUE(args[0].is_double());
    EXPECT_TRUE(std::signbit(args[0].get_double()));
}

TEST(json_protocol, framed_stream_parses_message_by_message) {
    text_frame_reader reader(32 * 1024);
    reader.append("{\"type\":6}\x1e{\"invocationId\":\"1\",\"type\":3}\x1e{\"type\":");
    std::string_view record;
    std::vector<std::size_t> kinds;
    while (reader.next(record) == text_frame_reader::status::record) {
        auto message = parse_json_message(record);
        ASSERT_TRUE(message);
        kinds.push_back(message->index());
    }
    EXPECT_EQ(kinds, (std::vector<std::size_t>{index_of(message_type::ping),
                                               index_of(message_type::completion)}));
}

TEST(json_text, token_names) {
    EXPECT_EQ(json_token_name(json::value(nullptr)), "Null");
    EXPECT_EQ(json_token_name(json::value(true)), "True");
    EXPECT_EQ(json_token_name(json::value(false)), "False");
    EXPECT_EQ(json_token_name(json::value(1)), "Number");
    EXPECT_EQ(json_token_name(json::value(1u)), "Number");
    EXPECT_EQ(json_token_name(json::value(1.5)), "Number");
    EXPECT_EQ(json_token_name(json::value("s")), "String");
    EXPECT_EQ(json_token_name(json::value(json::array())), "Array");
    EXPECT_EQ(json_token_name(json::value(json::object())), "Object");
}

// The word-at-a-time scan must find an escapable byte at any offset of any 8-byte block.
TEST(json_text, every_byte_at_every_offset_is_escaped_as_needed) {
    const auto naive = [](std::string_view text) {
        std::string out = "\"";
        for (char ch : text) {
            const auto c = static_cast<unsigned char>(ch);
            static constexpr char hex[] = "0123456789ABCDEF";
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xF];
                } else {
                    out += ch;
                }
            }
        }
        return out + "\"";
    };
    for (int c = 0; c < 256; ++c) {
        for (std::size_t length : {1u, 7u, 8u, 9u, 17u}) {
            for (std::size_t offset = 0; offset < length; ++offset) {
                std::string text(length, 'a');
                text[offset] = static_cast<char>(c);
                // A second special byte later in the same string.
                if (offset + 2 < length) {
                    text[offset + 2] = '"';
                }
                std::string out;
                append_json_string(text, out);
                ASSERT_EQ(out, naive(text)) << "byte " << c << " at " << offset;
            }
        }
    }
}

TEST(json_text, append_json_value_round_trips_through_the_parser) {
    const char* text = R"({"a":[1,-2,3.25,"x\"\\\n",true,false,null,{}],"b":{"c":[]},"":""})";
    std::string out;
    append_json_value(json::parse(text), out);
    EXPECT_EQ(out, text);
}

}  // namespace
}  // namespace switchboard::protocol
