#include "routing/serialized_message.hpp"

#include "protocol/hub_value.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing {
namespace {

const std::string expected_raw = R"({"target":"Say","arguments":["hi",{"n":1},[true,null]]})";

boost::json::array sample_arguments() {
    return {"hi", boost::json::object{{"n", 1}}, boost::json::array{true, nullptr}};
}

TEST(serialized_message, raw_of_a_local_message_is_target_and_arguments) {
    const auto message = make_message("Say", sample_arguments());
    ASSERT_TRUE(message->raw());
    EXPECT_EQ(*message->raw(), expected_raw);
    // Built once and shared.
    EXPECT_EQ(message->raw().get(), message->raw().get());
}

TEST(serialized_message, raw_of_a_client_result_request_leaves_the_id_out) {
    const serialized_message message("Say", sample_arguments(), "s1");
    ASSERT_TRUE(message.raw());
    EXPECT_EQ(*message.raw(), expected_raw);
}

TEST(serialized_message, raw_of_a_received_message_comes_from_its_json_encoding) {
    const auto local = make_message("Say", sample_arguments());
    const serialized_message received(
        serialized_message::encodings{local->encoded(wire_protocol::json), nullptr});
    ASSERT_TRUE(received.raw());
    EXPECT_EQ(*received.raw(), expected_raw);
}

TEST(serialized_message, raw_of_a_messagepack_only_message_is_parsed_from_messagepack) {
    boost::json::array arguments = sample_arguments();
    arguments.push_back(protocol::make_binary(std::string_view("\x01\x02\x03", 3)));
    const auto local = make_message("Say", arguments);
    const serialized_message received(
        serialized_message::encodings{nullptr, local->encoded(wire_protocol::messagepack)});
    ASSERT_TRUE(received.raw());
    // Binary becomes base64, as the JSON protocol renders it.
    EXPECT_EQ(*received.raw(), R"({"target":"Say","arguments":["hi",{"n":1},[true,null],"AQID"]})");
    EXPECT_EQ(*received.raw(), *local->raw());
}

TEST(serialized_message, raw_of_a_received_message_falls_back_past_a_broken_json_encoding) {
    const auto local = make_message("Say", sample_arguments());
    const serialized_message received(serialized_message::encodings{
        make_shared_buffer("{\"type\":1,\x1e"), local->encoded(wire_protocol::messagepack)});
    ASSERT_TRUE(received.raw());
    EXPECT_EQ(*received.raw(), expected_raw);
}

TEST(serialized_message, raw_is_null_when_no_encoding_holds_an_invocation) {
    const serialized_message garbage(serialized_message::encodings{
        make_shared_buffer("not json\x1e"), make_shared_buffer("\x03\xc1\xc1\xc1")});
    EXPECT_FALSE(garbage.raw());
    const serialized_message unframed(serialized_message::encodings{
        make_shared_buffer(R"({"type":1,"target":"Say","arguments":[]})"), nullptr});
    EXPECT_FALSE(unframed.raw());
    const serialized_message ping(
        serialized_message::encodings{make_shared_buffer("{\"type\":6}\x1e"), nullptr});
    EXPECT_FALSE(ping.raw());
    const serialized_message empty(serialized_message::encodings{});
    EXPECT_FALSE(empty.raw());
}

}  // namespace
}  // namespace switchboard::routing
