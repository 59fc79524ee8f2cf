// hub_client's stateful reconnect helpers: the message type read from a record's first bytes,
// which types count, and the Ack it sends.
#include "client/hub_client.hpp"

#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::client {
namespace {

// One of each message type, in the order of their numbers (1 to 9).
std::vector<protocol::hub_message> server_messages() {
    protocol::invocation_message invocation;
    invocation.target = "ReceiveMessage";
    invocation.arguments = {"bench", R"({"type":6})"};
    protocol::stream_invocation_message stream_invocation;
    stream_invocation.invocation_id = "1";
    stream_invocation.target = "Counter";
    protocol::stream_item_message item;
    item.invocation_id = "1";
    item.item = 42;
    protocol::cancel_invocation_message cancel;
    cancel.invocation_id = "1";
    return {invocation,
            item,
            protocol::completion_message::with_result("7", "done"),
            stream_invocation,
            cancel,
            protocol::ping_message{},
            protocol::close_message{.error = "bye", .allow_reconnect = true},
            protocol::ack_message{12},
            protocol::sequence_message{3}};
}

TEST(peek_message_type, json_records_as_the_server_writes_them) {
    int expected = 1;
    for (const auto& message : server_messages()) {
        std::string record;
        protocol::write_json_message(message, record);
        record.pop_back();  // the record separator: the reader yields records without it
        EXPECT_EQ(peek_message_type(record, hub_protocol::json), expected) << record;
        ++expected;
    }
}

TEST(peek_message_type, messagepack_bodies_as_the_server_writes_them) {
    int expected = 1;
    for (const auto& message : server_messages()) {
        std::string framed;
        protocol::write_messagepack_message(message, framed);
        // Every one of these is shorter than 128 bytes: a one-byte varint prefix.
        ASSERT_LT(static_cast<unsigned char>(framed[0]), 0x80);
        const std::string body = framed.substr(1);
        EXPECT_EQ(peek_message_type(body, hub_protocol::messagepack), expected);
        ++expected;
    }
}

TEST(peek_message_type, anything_else_is_left_to_the_parser) {
    // The type later in the object, a string type, nothing after the digits, no digits.
    EXPECT_FALSE(peek_message_type(R"({"target":"x","type":1})", hub_protocol::json));
    EXPECT_FALSE(peek_message_type(R"({"type":"1"})", hub_protocol::json));
    EXPECT_FALSE(peek_message_type(R"({"type":1)", hub_protocol::json));
    EXPECT_FALSE(peek_message_type(R"({"type":,})", hub_protocol::json));
    EXPECT_FALSE(peek_message_type(R"({"type":123,})", hub_protocol::json));
    EXPECT_FALSE(peek_message_type("", hub_protocol::json));
    // Not a fixarray; a type that is not a positive fixint; too short.
    EXPECT_FALSE(peek_message_type(std::string("\xdc\x00\x01\x01", 4), hub_protocol::messagepack));
    EXPECT_FALSE(peek_message_type(std::string("\x92\xcc\x01", 3), hub_protocol::messagepack));
    EXPECT_FALSE(peek_message_type(std::string("\x92", 1), hub_protocol::messagepack));
}

TEST(is_trackable, invocations_items_completions_and_cancels_count) {
    for (int type = 1; type <= 5; ++type) {
        EXPECT_TRUE(is_trackable(type)) << type;
    }
    for (const int type : {0, 6, 7, 8, 9, 10}) {
        EXPECT_FALSE(is_trackable(type)) << type;
    }
}

TEST(write_ack, json_and_messagepack_as_the_protocol_spec_gives_them) {
    std::string out;
    write_ack(42, hub_protocol::json, out);
    EXPECT_EQ(out, "{\"type\":8,\"sequenceId\":42}\x1e");
    out.clear();
    // [8, 42] after its length: fixarray of 2, fixint 8, fixint 42.
    write_ack(42, hub_protocol::messagepack, out);
    EXPECT_EQ(out, std::string("\x03\x92\x08\x2a", 4));
    out.clear();
    // Past a fixint: uint16 300.
    write_ack(300, hub_protocol::messagepack, out);
    EXPECT_EQ(out, std::string("\x05\x92\x08\xcd\x01\x2c", 6));
}

TEST(write_ack, appends_and_reads_back_as_an_ack) {
    std::string out = "kept";
    write_ack(7, hub_protocol::json, out);
    ASSERT_TRUE(out.starts_with("kept"));
    const auto parsed =
        protocol::parse_json_message(std::string_view(out).substr(4, out.size() - 5));
    ASSERT_TRUE(parsed) << parsed.error_message();
    const auto* ack = std::get_if<protocol::ack_message>(&*parsed);
    ASSERT_NE(ack, nullptr);
    EXPECT_EQ(ack->sequence_id, 7);
}

}  // namespace
}  // namespace switchboard::client
