#include "events/statelesse.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace switchboard::events {
namespace {

using namespace std::chrono;

TEST(statelesse_envelope, encodes_what_statelesse_writes) {
    EXPECT_EQ(encode_statelesse_envelope("game:42:PlayerJoinedEvent", R"({"player":"ann"})",
                                         "2026-01-15T10:20:30.1234567Z"),
              R"({"GroupId":"game:42:PlayerJoinedEvent","Payload":{"player":"ann"},)"
              R"("PublishedAt":"2026-01-15T10:20:30.1234567Z"})");
}

TEST(statelesse_envelope, the_switchboard_tag_comes_first_and_round_trips) {
    const statelesse_origin origin{"app:", "Joined", "5-6"};
    const auto bytes =
        encode_statelesse_envelope("g:1", "[1,2]", "2026-01-01T00:00:00.0000000Z", &origin);
    EXPECT_TRUE(bytes.starts_with(statelesse_origin_head("app:")));
    EXPECT_FALSE(bytes.starts_with(statelesse_origin_head("")));
    const auto decoded = decode_statelesse_envelope(bytes);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->group_id, "g:1");
    EXPECT_EQ(decoded->payload_json, "[1,2]");
    EXPECT_EQ(decoded->published_at, "2026-01-01T00:00:00.0000000Z");
    ASSERT_TRUE(decoded->origin);
    EXPECT_EQ(decoded->origin->prefix, "app:");
    EXPECT_EQ(decoded->origin->type, "Joined");
    EXPECT_EQ(decoded->origin->id, "5-6");
}

TEST(statelesse_envelope, decodes_in_any_order_with_extras_and_without_published_at) {
    const auto decoded = decode_statelesse_envelope(
        R"({"Extra":1,"Payload":{"a":[1,{"b":null}]},"GroupId":"*","Other":"x"})");
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->group_id, "*");
    EXPECT_EQ(decoded->payload_json, R"({"a":[1,{"b":null}]})");
    EXPECT_FALSE(decoded->published_at);
    EXPECT_FALSE(decoded->origin);
}

TEST(statelesse_envelope, accepts_camel_case_and_null_payloads) {
    const auto decoded =
        decode_statelesse_envelope(R"({"groupId":"a:b","payload":null,"publishedAt":5})");
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->group_id, "a:b");
    EXPECT_EQ(decoded->payload_json, "null");
    EXPECT_FALSE(decoded->published_at);  // not a string: ignored, as it is unused anyway
}

TEST(statelesse_envelope, a_broken_tag_is_no_tag) {
    const auto decoded =
        decode_statelesse_envelope(R"({"Switchboard":5,"GroupId":"g","Payload":1})");
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_FALSE(decoded->origin);
    const auto bad_type = decode_statelesse_envelope(
        R"({"Switchboard":{"prefix":"","type":"a b"},"GroupId":"g","Payload":1})");
    ASSERT_TRUE(bad_type);
    ASSERT_TRUE(bad_type->origin);
    EXPECT_EQ(bad_type->origin->type, "");
}

TEST(statelesse_envelope, malformed_envelopes_are_errors) {
    for (const char* payload : {
             "",
             "{",
             "[]",
             "\"x\"",
             R"({"Payload":1})",
             R"({"GroupId":"g"})",
             R"({"GroupId":5,"Payload":1})",
             R"({"GroupId":"","Payload":1})",
             R"({"GroupId":"a b","Payload":1})",
             "{\"GroupId\":\"a\\nb\",\"Payload\":1}",
         }) {
        EXPECT_FALSE(decode_statelesse_envelope(payload)) << payload;
    }
    EXPECT_FALSE(decode_statelesse_envelope(std::string(300, 'x')));
    EXPECT_FALSE(decode_statelesse_envelope(R"({"GroupId":")" + std::string(300, 'g') +
                                            R"(","Payload":1})"));
}

TEST(statelesse_event_name, last_segment_when_it_looks_like_a_type) {
    const auto rule = statelesse_type_rule::last_segment;
    EXPECT_EQ(statelesse_event_name("game:42:PlayerJoinedEvent", rule), "PlayerJoinedEvent");
    EXPECT_EQ(statelesse_event_name("user:7:Notification_V2", rule), "Notification_V2");
    EXPECT_EQ(statelesse_event_name("Lobby", rule), "Lobby");
    EXPECT_EQ(statelesse_event_name("game:42", rule), "message");
    EXPECT_EQ(statelesse_event_name("system:all", rule), "message");
    EXPECT_EQ(statelesse_event_name("game:42:", rule), "message");
    EXPECT_EQ(statelesse_event_name("game:Player-Joined", rule), "message");
    EXPECT_EQ(statelesse_event_name("*", rule), "message");
    EXPECT_EQ(statelesse_event_name("game:42:PlayerJoinedEvent", statelesse_type_rule::message),
              "message");
}

TEST(statelesse_time, dotnet_round_trip_format_with_seven_digits) {
    const sys_days day = 2026y / January / 15;
    const auto when = day + 10h + 20min + 30s + nanoseconds(123'456'789);
    EXPECT_EQ(format_dotnet_utc(time_point_cast<system_clock::duration>(when)),
              "2026-01-15T10:20:30.1234567Z");
    EXPECT_EQ(format_dotnet_utc(system_clock::time_point{}), "1970-01-01T00:00:00.0000000Z");
    EXPECT_EQ(format_dotnet_utc(system_clock::now()).size(), 28u);
}

}  // namespace
}  // namespace switchboard::events
