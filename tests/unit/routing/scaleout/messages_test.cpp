// The byte vectors are those of ASP.NET's RedisProtocolTests.cs (backplanes.md §2.5).
#include "routing/scaleout/messages.hpp"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace switchboard::routing::scaleout {
namespace {

std::string bytes(std::initializer_list<unsigned> values) {
    std::string out;
    for (const unsigned v : values) {
        out.push_back(static_cast<char>(v));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Ack

struct ack_vector {
    const char* name;
    std::int32_t id;
    std::string wire;
};

const std::vector<ack_vector>& ack_vectors() {
    static const std::vector<ack_vector> vectors{
        {"Zero", 0, bytes({0x91, 0x00})},
        {"Fixnum", 42, bytes({0x91, 0x2A})},
        {"Uint8", 180, bytes({0x91, 0xCC, 0xB4})},
        {"Uint16", 384, bytes({0x91, 0xCD, 0x01, 0x80})},
        {"Uint32", 70000, bytes({0x91, 0xCE, 0x00, 0x01, 0x11, 0x70})},
    };
    return vectors;
}

TEST(scaleout_messages, ack_vectors_both_ways) {
    for (const auto& vector : ack_vectors()) {
        EXPECT_EQ(encode_ack(vector.id), vector.wire) << vector.name;
        const auto decoded = decode_ack(vector.wire);
        ASSERT_TRUE(decoded) << vector.name << ": " << decoded.error_message();
        EXPECT_EQ(*decoded, vector.id) << vector.name;
    }
}

TEST(scaleout_messages, ack_accepts_every_integer_format_and_extra_items) {
    EXPECT_EQ(*decode_ack(bytes({0x91, 0xD0, 0x2A})), 42);                       // int8
    EXPECT_EQ(*decode_ack(bytes({0x91, 0xD1, 0x00, 0x2A})), 42);                 // int16
    EXPECT_EQ(*decode_ack(bytes({0x91, 0xCF, 0, 0, 0, 0, 0, 0, 0, 0x2A})), 42);  // uint64
    EXPECT_EQ(*decode_ack(bytes({0x91, 0xFF})), -1);                             // negative fixint
    EXPECT_EQ(*decode_ack(bytes({0x92, 0x07, 0xA1, 0x78})), 7);                  // extra item
    EXPECT_EQ(*decode_ack(bytes({0x91, 0x07, 0xC1})), 7);  // bytes after the array
}

TEST(scaleout_messages, ack_negative_ids_round_trip) {
    // Interlocked.Increment wraps to negative ids after 2^31 commands.
    EXPECT_EQ(encode_ack(-1), bytes({0x91, 0xFF}));
    EXPECT_EQ(encode_ack(-200), bytes({0x91, 0xD1, 0xFF, 0x38}));
    for (const std::int32_t id : {INT32_MIN, -70000, -129, -33, INT32_MAX}) {
        const auto decoded = decode_ack(encode_ack(id));
        ASSERT_TRUE(decoded) << id;
        EXPECT_EQ(*decoded, id);
    }
}

TEST(scaleout_messages, ack_refuses_garbage) {
    EXPECT_EQ(decode_ack(bytes({0x90})).error_message(), "Insufficient items in Ack array.");
    EXPECT_EQ(decode_ack(bytes({0x90})).get_error().type, "InvalidDataException");
    EXPECT_FALSE(decode_ack(""));
    EXPECT_FALSE(decode_ack(bytes({0x91})));                                // truncated
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xCD, 0x01})));                    // truncated integer
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xA1, 0x61})));                    // a string
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xC0})));                          // nil
    EXPECT_FALSE(decode_ack(bytes({0x2A})));                                // not an array
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xCE, 0x80, 0x00, 0x00, 0x00})));  // beyond int32
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xD3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF})));
    EXPECT_FALSE(decode_ack(bytes({0x91, 0xC1})));  // never used
}

// A 32-bit array count wraps msgpuck's mp_check counter; the reader must still refuse it.
TEST(scaleout_messages, huge_counts_over_short_input_are_refused) {
    EXPECT_FALSE(decode_ack(bytes({0xDD, 0x80, 0x00, 0x00, 0x00})));
    EXPECT_FALSE(decode_ack(bytes({0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0xDD, 0x80, 0x00, 0x00, 0x00, 0x80})));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x90, 0xDF, 0x80, 0x00, 0x00, 0x00})));
    EXPECT_FALSE(decode_completion(bytes({0x92, 0xDB, 0xFF, 0xFF, 0xFF, 0xFF, 0x61})));
    EXPECT_FALSE(decode_completion(bytes({0x92, 0xA1, 0x61, 0xC6, 0xFF, 0xFF, 0xFF, 0xFF})));
}

// ---------------------------------------------------------------------------------------------
// Group command

TEST(scaleout_messages, group_command_vectors_both_ways) {
    const group_command add{42, "S", group_action::add, "G", "C"};
    const group_command remove{42, "S", group_action::remove, "G", "C"};
    const auto add_wire = bytes({0x95, 0x2A, 0xA1, 0x53, 0x01, 0xA1, 0x47, 0xA1, 0x43});
    const auto remove_wire = bytes({0x95, 0x2A, 0xA1, 0x53, 0x02, 0xA1, 0x47, 0xA1, 0x43});

    EXPECT_EQ(encode_group_command(add), add_wire);
    EXPECT_EQ(encode_group_command(remove), remove_wire);

    const auto decoded_add = decode_group_command(add_wire);
    ASSERT_TRUE(decoded_add) << decoded_add.error_message();
    EXPECT_EQ(*decoded_add, add);
    EXPECT_EQ(decoded_add->id, 42);
    EXPECT_EQ(decoded_add->server_name, "S");
    EXPECT_EQ(decoded_add->action, group_action::add);
    EXPECT_EQ(decoded_add->group_name, "G");
    EXPECT_EQ(decoded_add->connection_id, "C");

    const auto decoded_remove = decode_group_command(remove_wire);
    ASSERT_TRUE(decoded_remove) << decoded_remove.error_message();
    EXPECT_EQ(*decoded_remove, remove);
}

TEST(scaleout_messages, group_command_odd_names_round_trip) {
    const group_command command{70000, "MyServer_02db60e5fab243b890a847fa5c4dcb29",
                                group_action::remove, "room:*:42", std::string(300, 'c')};
    const auto decoded = decode_group_command(encode_group_command(command));
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(*decoded, command);
}

TEST(scaleout_messages, group_command_tolerates_wider_integers_and_extra_items) {
    // id as uint32, action as uint8, and a sixth item.
    const auto wire = bytes(
        {0x96, 0xCE, 0x00, 0x00, 0x00, 0x2A, 0xA1, 0x53, 0xCC, 0x02, 0xA1, 0x47, 0xA1, 0x43, 0xC0});
    const auto decoded = decode_group_command(wire);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(*decoded, (group_command{42, "S", group_action::remove, "G", "C"}));
}

TEST(scaleout_messages, group_command_refuses_garbage) {
    const auto wire = bytes({0x95, 0x2A, 0xA1, 0x53, 0x01, 0xA1, 0x47, 0xA1, 0x43});
    for (std::size_t size = 0; size < wire.size(); ++size) {
        EXPECT_FALSE(decode_group_command(wire.substr(0, size))) << size;
    }
    EXPECT_EQ(
        decode_group_command(bytes({0x94, 0x2A, 0xA1, 0x53, 0x01, 0xA1, 0x47})).error_message(),
        "Insufficient items in GroupCommand array.");
    // Action 0 and 3 are not actions; 256 is not a byte.
    EXPECT_FALSE(
        decode_group_command(bytes({0x95, 0x2A, 0xA1, 0x53, 0x00, 0xA1, 0x47, 0xA1, 0x43})));
    EXPECT_FALSE(
        decode_group_command(bytes({0x95, 0x2A, 0xA1, 0x53, 0x03, 0xA1, 0x47, 0xA1, 0x43})));
    EXPECT_FALSE(decode_group_command(
        bytes({0x95, 0x2A, 0xA1, 0x53, 0xCD, 0x01, 0x01, 0xA1, 0x47, 0xA1, 0x43})));
    // Wrong types: id as string, server name as int, group name as nil, connection id as bin.
    EXPECT_FALSE(
        decode_group_command(bytes({0x95, 0xA1, 0x31, 0xA1, 0x53, 0x01, 0xA1, 0x47, 0xA1, 0x43})));
    EXPECT_FALSE(decode_group_command(bytes({0x95, 0x2A, 0x01, 0x01, 0xA1, 0x47, 0xA1, 0x43})));
    EXPECT_FALSE(decode_group_command(bytes({0x95, 0x2A, 0xA1, 0x53, 0x01, 0xC0, 0xA1, 0x43})));
    EXPECT_FALSE(
        decode_group_command(bytes({0x95, 0x2A, 0xA1, 0x53, 0x01, 0xA1, 0x47, 0xC4, 0x01, 0x43})));
}

// ---------------------------------------------------------------------------------------------
// Invocation

// The test protocols "p1" and "p2" of RedisProtocolTests serialize every message as 2A.
invocation test_invocation(std::vector<std::string> excluded) {
    invocation invocation;
    invocation.excluded_connection_ids = std::move(excluded);
    invocation.payloads.push_back({"p1", make_shared_buffer(bytes({0x2A}))});
    invocation.payloads.push_back({"p2", make_shared_buffer(bytes({0x2A}))});
    return invocation;
}

const std::string payload_map =
    bytes({0x82, 0xA2, 0x70, 0x31, 0xC4, 0x01, 0x2A, 0xA2, 0x70, 0x32, 0xC4, 0x01, 0x2A});

struct invocation_vector {
    const char* name;
    std::vector<std::string> excluded;
    std::string wire;
};

TEST(scaleout_messages, invocation_vectors_both_ways) {
    const std::vector<invocation_vector> vectors{
        {"NoExcludedIds", {}, bytes({0x92, 0x90}) + payload_map},
        {"OneExcludedId", {"a"}, bytes({0x92, 0x91, 0xA1, 0x61}) + payload_map},
        {"ManyExcludedIds",
         {"a", "b", "c", "d", "e", "f"},
         bytes(
             {0x92, 0x96, 0xA1, 0x61, 0xA1, 0x62, 0xA1, 0x63, 0xA1, 0x64, 0xA1, 0x65, 0xA1, 0x66}) +
             payload_map},
    };
    for (const auto& vector : vectors) {
        EXPECT_EQ(encode_invocation(test_invocation(vector.excluded)), vector.wire) << vector.name;

        const auto decoded = decode_invocation(vector.wire);
        ASSERT_TRUE(decoded) << vector.name << ": " << decoded.error_message();
        EXPECT_EQ(decoded->excluded_connection_ids, vector.excluded) << vector.name;
        ASSERT_EQ(decoded->payloads.size(), 2u);
        EXPECT_EQ(decoded->payloads[0].protocol, "p1");
        EXPECT_EQ(*decoded->payloads[0].bytes, bytes({0x2A}));
        EXPECT_EQ(decoded->payloads[1].protocol, "p2");
        EXPECT_EQ(*decoded->payloads[1].bytes, bytes({0x2A}));
        ASSERT_NE(decoded->payload("p2"), nullptr);
        EXPECT_EQ(**decoded->payload("p2"), bytes({0x2A}));
        EXPECT_EQ(decoded->payload("json"), nullptr);
        EXPECT_FALSE(decoded->invocation_id);
        EXPECT_FALSE(decoded->return_channel);
    }
}

TEST(scaleout_messages, invocation_exclusions_are_ordinal) {
    const auto decoded = decode_invocation(encode_invocation(test_invocation({"abc", "D"})));
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->excludes("abc"));
    EXPECT_TRUE(decoded->excludes("D"));
    EXPECT_FALSE(decoded->excludes("ABC"));
    EXPECT_FALSE(decoded->excludes("d"));
    EXPECT_FALSE(decoded->excludes("ab"));
}

TEST(scaleout_messages, client_result_invocation_has_four_items) {
    auto invocation = test_invocation({});
    invocation.invocation_id = "AAAAAAAAAAAAAAAAAAAAAA";
    invocation.return_channel = "H:internal:return:s";
    const auto wire = encode_invocation(invocation);
    const std::string expected = bytes({0x94, 0x90}) + payload_map + bytes({0xB6}) +
                                 std::string(22, 'A') + bytes({0xB3}) + "H:internal:return:s";
    EXPECT_EQ(wire, expected);

    const auto decoded = decode_invocation(wire);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->invocation_id, "AAAAAAAAAAAAAAAAAAAAAA");
    EXPECT_EQ(decoded->return_channel, "H:internal:return:s");
}

TEST(scaleout_messages, invocation_optional_items_may_be_nil_or_absent) {
    // Four items with nil id and channel: read as absent, as .NET's ReadString does.
    const auto nils = decode_invocation(bytes({0x94, 0x90}) + payload_map + bytes({0xC0, 0xC0}));
    ASSERT_TRUE(nils) << nils.error_message();
    EXPECT_FALSE(nils->invocation_id);
    EXPECT_FALSE(nils->return_channel);

    // A third item alone is ignored whatever its type.
    const auto three = decode_invocation(bytes({0x93, 0x90}) + payload_map + bytes({0x2A}));
    ASSERT_TRUE(three) << three.error_message();
    EXPECT_FALSE(three->invocation_id);

    // Only one optional field set: the other is written as nil.
    auto invocation = test_invocation({});
    invocation.invocation_id = "1";
    EXPECT_EQ(encode_invocation(invocation),
              bytes({0x94, 0x90}) + payload_map + bytes({0xA1, 0x31, 0xC0}));

    // An empty map is legal (the publisher had no protocols).
    const auto empty = decode_invocation(bytes({0x92, 0x90, 0x80}));
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->payloads.empty());
}

TEST(scaleout_messages, invocation_payloads_of_every_bin_size) {
    auto invocation = test_invocation({});
    invocation.payloads[0].bytes = make_shared_buffer(std::string(300, 'x'));    // bin16
    invocation.payloads[1].bytes = make_shared_buffer(std::string(70000, 'y'));  // bin32
    const auto wire = encode_invocation(invocation);
    EXPECT_EQ(wire.substr(2, 6), bytes({0x82, 0xA2, 0x70, 0x31, 0xC5, 0x01}));
    const auto decoded = decode_invocation(wire);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(*decoded->payloads[0].bytes, std::string(300, 'x'));
    EXPECT_EQ(*decoded->payloads[1].bytes, std::string(70000, 'y'));
}

TEST(scaleout_messages, invocation_from_serialized_message_carries_both_framings) {
    boost::json::array arguments{"hi"};
    const auto message = make_message("Send", arguments);
    const auto wire = encode_invocation(*message, std::vector<std::string>{"x"});
    const auto decoded = decode_invocation(wire);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->excluded_connection_ids, std::vector<std::string>{"x"});
    ASSERT_EQ(decoded->payloads.size(), 2u);
    EXPECT_EQ(decoded->payloads[0].protocol, "json");
    EXPECT_EQ(decoded->payloads[1].protocol, "messagepack");
    ASSERT_NE(decoded->payload(wire_protocol::json), nullptr);
    EXPECT_EQ(**decoded->payload(wire_protocol::json), *message->encoded(wire_protocol::json));
    EXPECT_EQ(**decoded->payload(wire_protocol::messagepack),
              *message->encoded(wire_protocol::messagepack));
    // The framed bytes of §2.6: VarInt 14, then [1, {}, nil, "Send", ["hi"], []].
    EXPECT_EQ(**decoded->payload(wire_protocol::messagepack),
              bytes({0x0E, 0x96, 0x01, 0x80, 0xC0, 0xA4, 0x53, 0x65, 0x6E, 0x64, 0x91, 0xA2, 0x68,
                     0x69, 0x90}));
    EXPECT_EQ(decoded->payload(wire_protocol::json)->get()->back(), '\x1e');
}

TEST(scaleout_messages, invocation_refuses_garbage) {
    const auto wire = bytes({0x92, 0x91, 0xA1, 0x61}) + payload_map;
    for (std::size_t size = 0; size < wire.size(); ++size) {
        EXPECT_FALSE(decode_invocation(wire.substr(0, size))) << size;
    }
    EXPECT_EQ(decode_invocation(bytes({0x91, 0x90})).error_message(),
              "Insufficient items in Invocation array.");
    // Excluded ids not an array, or holding a non-string.
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0xA1, 0x61}) + payload_map));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x91, 0x01}) + payload_map));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x91, 0xC0}) + payload_map));
    // Serializations not a map, a non-string key, a str value instead of bin.
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x90, 0x90})));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x90, 0x81, 0x01, 0xC4, 0x01, 0x2A})));
    EXPECT_FALSE(decode_invocation(bytes({0x92, 0x90, 0x81, 0xA2, 0x70, 0x31, 0xA1, 0x2A})));
    // Four items whose id or channel is neither str nor nil.
    EXPECT_FALSE(decode_invocation(bytes({0x94, 0x90, 0x80, 0x01, 0xC0})));
    EXPECT_FALSE(decode_invocation(bytes({0x94, 0x90, 0x80, 0xC0, 0xC4, 0x00})));
    // Four items announced, three present.
    EXPECT_FALSE(decode_invocation(bytes({0x94, 0x90, 0x80, 0xC0})));
}

// ---------------------------------------------------------------------------------------------
// Completion

TEST(scaleout_messages, completion_vectors_both_ways) {
    const std::string json = R"({"type":3,"invocationId":"1","result":1})";
    ASSERT_EQ(json.size(), 0x28u);
    const auto json_wire = bytes({0x92, 0xA4, 0x6A, 0x73, 0x6F, 0x6E, 0xC4, 0x28}) + json;

    const auto msgpack = bytes({0x95, 0x03, 0x80, 0xA3, 0x78, 0x79, 0x7A, 0x03, 0x2A});
    const auto msgpack_wire = bytes({0x92, 0xAB, 0x6D, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65, 0x70,
                                     0x61, 0x63, 0x6B, 0xC4, 0x09}) +
                              msgpack;

    EXPECT_EQ(encode_completion("json", json), json_wire);
    EXPECT_EQ(encode_completion("messagepack", msgpack), msgpack_wire);

    const auto decoded_json = decode_completion(json_wire);
    ASSERT_TRUE(decoded_json) << decoded_json.error_message();
    EXPECT_EQ(decoded_json->protocol, "json");
    EXPECT_EQ(*decoded_json->bytes, json);

    const auto decoded_msgpack = decode_completion(msgpack_wire);
    ASSERT_TRUE(decoded_msgpack) << decoded_msgpack.error_message();
    EXPECT_EQ(decoded_msgpack->protocol, "messagepack");
    EXPECT_EQ(*decoded_msgpack->bytes, msgpack);
}

TEST(scaleout_messages, completion_refuses_garbage) {
    const auto wire = bytes({0x92, 0xA4, 0x6A, 0x73, 0x6F, 0x6E, 0xC4, 0x02, 0x7B, 0x7D});
    for (std::size_t size = 0; size < wire.size(); ++size) {
        EXPECT_FALSE(decode_completion(wire.substr(0, size))) << size;
    }
    EXPECT_TRUE(decode_completion(wire));
    EXPECT_EQ(decode_completion(bytes({0x91, 0xA1, 0x61})).error_message(),
              "Insufficient items in Completion array.");
    EXPECT_FALSE(decode_completion(bytes({0x92, 0x01, 0xC4, 0x00})));        // name not a str
    EXPECT_FALSE(decode_completion(bytes({0x92, 0xA1, 0x61, 0xA0})));        // str, not bin
    EXPECT_FALSE(decode_completion(bytes({0x92, 0xA1, 0x61, 0xC0})));        // nil
    EXPECT_FALSE(decode_completion(bytes({0x81, 0xA1, 0x61, 0xC4, 0x00})));  // a map
}

}  // namespace
}  // namespace switchboard::routing::scaleout
