#include "events/event_format.hpp"

#include <gtest/gtest.h>

namespace switchboard::events {
namespace {

TEST(event_format, an_event_is_id_type_and_one_data_line) {
    EXPECT_EQ(format_sse_event(event_id{1764758400000, 0}, "PlayerJoinedEvent", "game:42",
                               R"({"player":"ann"})"),
              "id: 1764758400000-0\nevent: PlayerJoinedEvent\n"
              "data: {\"channel\":\"game:42\",\"data\":{\"player\":\"ann\"}}\n\n");
}

TEST(event_format, channel_names_are_json_escaped) {
    EXPECT_EQ(format_sse_event(event_id{1, 2}, "T", R"(a"b\c)", "null"),
              "id: 1-2\nevent: T\ndata: {\"channel\":\"a\\\"b\\\\c\",\"data\":null}\n\n");
}

TEST(event_format, reset_names_the_channel_and_has_no_id) {
    EXPECT_EQ(format_reset_event("game:42"),
              "event: reset\ndata: {\"channel\":\"game:42\",\"reason\":\"history\"}\n\n");
}

TEST(bus_event, round_trips) {
    const auto payload = encode_bus_event("game:42", "Joined", R"({"a":[1,2]})", event_id{5, 6});
    EXPECT_EQ(payload, R"({"channel":"game:42","type":"Joined","data":{"a":[1,2]},"id":"5-6"})");
    const auto decoded = decode_bus_event(payload);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->channel, "game:42");
    EXPECT_EQ(decoded->type, "Joined");
    EXPECT_EQ(decoded->data_json, R"({"a":[1,2]})");
    EXPECT_EQ(decoded->id, (event_id{5, 6}));
}

TEST(bus_event, the_origin_travels_and_the_frame_is_everything_but_data_and_id) {
    const auto payload = encode_bus_event("c", "T", "1", event_id{5, 6}, "origin-1");
    const auto frame = frame_bus_event("c", "T", "origin-1");
    EXPECT_EQ(payload, R"({"channel":"c","type":"T","data":1,"origin":"origin-1","id":"5-6"})");
    EXPECT_EQ(frame.before_data + "1" + frame.after_data + "5-6" + std::string(bus_event_tail),
              payload);
    const auto decoded = decode_bus_event(payload);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->id, (event_id{5, 6}));
    EXPECT_TRUE(is_bus_event_from(payload, "origin-1"));
    EXPECT_FALSE(is_bus_event_from(payload, "origin-2"));
    EXPECT_FALSE(is_bus_event_from(payload, "1"));
    EXPECT_FALSE(is_bus_event_from(payload, ""));
    // Without an origin (an older version's), or with it only inside the data: not ours.
    EXPECT_FALSE(is_bus_event_from(encode_bus_event("c", "T", "1", event_id{5, 6}), "origin-1"));
    EXPECT_FALSE(is_bus_event_from(
        encode_bus_event("c", "T", R"({"origin":"origin-1","id":"5-6"})", event_id{5, 6}),
        "origin-1"));
}

TEST(bus_event, malformed_payloads_are_errors) {
    for (const char* payload : {
             "",
             "[]",
             "{",
             "null",
             R"({"channel":"c","type":"T","id":"1-1"})",
             R"({"channel":"c","type":"T","data":1})",
             R"({"channel":"c","type":"T","data":1,"id":"x"})",
             R"({"channel":"a b","type":"T","data":1,"id":"1-1"})",
             R"({"channel":"c","type":"T T","data":1,"id":"1-1"})",
             R"({"channel":5,"type":"T","data":1,"id":"1-1"})",
         }) {
        EXPECT_FALSE(decode_bus_event(payload)) << payload;
    }
}

}  // namespace
}  // namespace switchboard::events
