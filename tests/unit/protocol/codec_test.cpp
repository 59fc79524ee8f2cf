#include "protocol/codec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace switchboard::protocol {
namespace {

TEST(codec, rows_are_indexed_by_their_protocol_and_found_by_handshake_name) {
    for (const auto protocol : {wire_protocol::json, wire_protocol::messagepack}) {
        const auto& row = codec_of(protocol);
        EXPECT_EQ(row.protocol, protocol);
        EXPECT_EQ(find_codec(row.name), &row);
    }
    EXPECT_EQ(codec_of(wire_protocol::json).name, "json");
    EXPECT_FALSE(codec_of(wire_protocol::json).binary);
    EXPECT_EQ(codec_of(wire_protocol::json).framing, message_reader::framing::text);
    EXPECT_EQ(codec_of(wire_protocol::messagepack).name, "messagepack");
    EXPECT_TRUE(codec_of(wire_protocol::messagepack).binary);
    EXPECT_EQ(codec_of(wire_protocol::messagepack).framing, message_reader::framing::binary);
    EXPECT_EQ(find_codec("JSON"), nullptr);  // handshake names are case-sensitive in ASP.NET
    EXPECT_EQ(find_codec("xml"), nullptr);
}

TEST(codec, what_write_produces_unframes_and_parses_back) {
    for (const auto protocol : {wire_protocol::json, wire_protocol::messagepack}) {
        const auto& row = codec_of(protocol);
        std::string framed;
        row.write_invocation("Say", {"hi", 2}, framed);
        std::string_view record;
        ASSERT_TRUE(row.unframe(framed, record)) << row.name;
        auto parsed = row.parse(record);
        ASSERT_TRUE(parsed) << row.name << ": " << parsed.error_message();
        const auto* invocation = std::get_if<invocation_message>(&*parsed);
        ASSERT_NE(invocation, nullptr);
        EXPECT_EQ(invocation->target, "Say");
        EXPECT_EQ(invocation->arguments, (boost::json::array{"hi", 2}));
        // A frame cut short or followed by more bytes is not one whole message.
        EXPECT_FALSE(row.unframe(std::string_view(framed).substr(0, framed.size() - 1), record));
        EXPECT_FALSE(row.unframe(framed + framed, record));
        EXPECT_FALSE(row.unframe({}, record));
    }
}

}  // namespace
}  // namespace switchboard::protocol
