#include "protocol/hub_value.hpp"

#include "core/base64.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/json_text.hpp"
#include "protocol/messagepack_protocol.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace switchboard::protocol {
namespace {

namespace json = boost::json;

std::string to_json(const json::value& value) {
    std::string out;
    append_json_value(value, out);
    return out;
}

std::string iso(std::int64_t seconds, std::uint32_t nanoseconds = 0) {
    std::string out;
    append_iso8601(timestamp{seconds, nanoseconds}, out);
    return out;
}

std::string base64(std::string_view bytes) {
    std::string out;
    append_base64(bytes, out);
    return out;
}

// --- Tagged values
// ---------------------------------------------------------------------------------

TEST(hub_value, binary_is_a_tagged_object) {
    const std::vector<std::uint8_t> bytes = {0x00, 0x01, 0xff};
    const auto value = make_binary(bytes);
    ASSERT_TRUE(value.is_object());
    ASSERT_EQ(value.get_object().size(), 1u);
    EXPECT_EQ(value.get_object().begin()->key(), binary_marker);
    const auto* data = as_binary(value);
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(std::string_view(data->data(), data->size()), std::string_view("\0\1\xff", 3));
    EXPECT_TRUE(may_be_tagged(value.get_object()));
    EXPECT_EQ(as_timestamp(value), std::nullopt);
}

TEST(hub_value, other_values_are_not_binary) {
    EXPECT_EQ(as_binary(json::value("AAE=")), nullptr);
    EXPECT_EQ(as_binary(json::parse(R"({"bin":"x"})")), nullptr);
    EXPECT_EQ(as_binary(json::parse(R"({"\u0000bin":"x","other":1})")), nullptr);
    EXPECT_EQ(as_binary(json::parse(R"({"\u0000bin":5})")), nullptr);
    EXPECT_EQ(as_binary(json::parse(R"({"\u0000bi":"x"})")), nullptr);
    EXPECT_FALSE(may_be_tagged(json::parse(R"({"a":1})").get_object()));
    EXPECT_FALSE(may_be_tagged(json::parse(R"({"":1})").get_object()));
    EXPECT_FALSE(may_be_tagged(json::parse("{}").get_object()));
    // The JSON escape decodes to the marker: a JSON client can send a tagged value too.
    EXPECT_NE(as_binary(json::parse(R"({"\u0000bin":"x"})")), nullptr);
}

TEST(hub_value, timestamp_is_a_tagged_object) {
    const auto value = make_timestamp(1017656415, 5);
    EXPECT_EQ(value.get_object().begin()->key(), timestamp_marker);
    EXPECT_EQ(as_timestamp(value), (timestamp{1017656415, 5}));
    EXPECT_EQ(as_binary(value), nullptr);
    EXPECT_EQ(as_timestamp(make_timestamp(timestamp{-1, 999999999})), (timestamp{-1, 999999999}));
}

TEST(hub_value, timestamp_nanoseconds_carry_into_seconds) {
    EXPECT_EQ(as_timestamp(make_timestamp(10, 2'500'000'000)), (timestamp{12, 500'000'000}));
    EXPECT_EQ(as_timestamp(make_timestamp(std::numeric_limits<std::int64_t>::max(), 1'000'000'000)),
              (timestamp{std::numeric_limits<std::int64_t>::max(), 999'999'999}));
}

TEST(hub_value, malformed_timestamps_are_not_timestamps) {
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1,2,3]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1,1000000000]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1,-1]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1.5,0]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[18446744073709551615,0]})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":"2002-04-01T10:20:15Z"})")), std::nullopt);
    EXPECT_EQ(as_timestamp(json::parse(R"({"\u0000ts":[1,2]})")), (timestamp{1, 2}));
}

TEST(hub_value, time_points) {
    using namespace std::chrono;
    const auto point = sys_days(year(2002) / April / 1) + 10h + 20min + 15s + 123ns;
    const auto time = timestamp::from_time_point(point);
    EXPECT_EQ(time, (timestamp{1017656415, 123}));
    EXPECT_EQ(time.to_time_point(), point);
    // Before 1970 the nanoseconds still count forward.
    EXPECT_EQ(timestamp::from_time_point(sys_time<nanoseconds>(nanoseconds(-1))),
              (timestamp{-1, 999'999'999}));
    EXPECT_EQ((timestamp{-1, 999'999'999}).to_time_point().time_since_epoch().count(), -1);
    // Regression (UBSan): the remainder was computed as count - seconds * 1e9, which overflows.
    EXPECT_EQ(timestamp::from_time_point(
                  sys_time<nanoseconds>(nanoseconds(std::numeric_limits<std::int64_t>::min()))),
              (timestamp{-9223372037, 145224192}));
    EXPECT_EQ((timestamp{std::numeric_limits<std::int64_t>::max(), 0})
                  .to_time_point()
                  .time_since_epoch()
                  .count(),
              std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ((timestamp{std::numeric_limits<std::int64_t>::min(), 0})
                  .to_time_point()
                  .time_since_epoch()
                  .count(),
              std::numeric_limits<std::int64_t>::min());
}

// --- Base64
// ----------------------------------------------------------------------------------------

TEST(hub_value, base64_encoding) {
    EXPECT_EQ(base64(""), "");
    EXPECT_EQ(base64("hel"), "aGVs");
    EXPECT_EQ(base64("hell"), "aGVsbA==");
    EXPECT_EQ(base64("hello"), "aGVsbG8=");
    EXPECT_EQ(base64(std::string_view("\0\1\2\xfe\xff", 5)), "AAEC/v8=");
}

// --- ISO-8601
// --------------------------------------------------------------------------------------

TEST(hub_value, iso8601_writing) {
    EXPECT_EQ(iso(1017656415), "2002-04-01T10:20:15Z");
    EXPECT_EQ(iso(1017656415, 123456700), "2002-04-01T10:20:15.1234567Z");
    EXPECT_EQ(iso(1017656415, 500000000), "2002-04-01T10:20:15.5Z");
    EXPECT_EQ(iso(1017656415, 1), "2002-04-01T10:20:15.000000001Z");
    EXPECT_EQ(iso(1017656415, 999999999), "2002-04-01T10:20:15.999999999Z");
    EXPECT_EQ(iso(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(iso(-1), "1969-12-31T23:59:59Z");
    EXPECT_EQ(iso(-1, 500000000), "1969-12-31T23:59:59.5Z");
    EXPECT_EQ(iso(951782400), "2000-02-29T00:00:00Z");
    EXPECT_EQ(iso(951868800), "2000-03-01T00:00:00Z");
    EXPECT_EQ(iso(4107542400), "2100-03-01T00:00:00Z");
    EXPECT_EQ(iso(-62135596800), "0001-01-01T00:00:00Z");
    EXPECT_EQ(iso(253402300799), "9999-12-31T23:59:59Z");
    // JS Date.toISOString's expanded years.
    EXPECT_EQ(iso(253402300800), "+010000-01-01T00:00:00Z");
    EXPECT_EQ(iso(-62167219200), "0000-01-01T00:00:00Z");
    EXPECT_EQ(iso(-62167219201), "-000001-12-31T23:59:59Z");
    EXPECT_EQ(iso(8640000000000), "+275760-09-13T00:00:00Z");
    EXPECT_EQ(iso(-8640000000000), "-271821-04-20T00:00:00Z");
    // The ends of the range render, with more digits (regression, UBSan: the second of the day
    // was computed as seconds - days * 86400, which overflows at the minimum).
    EXPECT_FALSE(iso(std::numeric_limits<std::int64_t>::max()).empty());
    EXPECT_FALSE(iso(std::numeric_limits<std::int64_t>::min()).empty());
}

TEST(hub_value, iso8601_parsing) {
    EXPECT_EQ(parse_iso8601("2002-04-01T10:20:15Z"), (timestamp{1017656415, 0}));
    EXPECT_EQ(parse_iso8601("2002-04-01T10:20:15.1234567Z"), (timestamp{1017656415, 123456700}));
    EXPECT_EQ(parse_iso8601("2002-04-01T10:20:15.000Z"), (timestamp{1017656415, 0}));
    EXPECT_EQ(parse_iso8601("2002-04-01T10:20:15.123456789123Z"),
              (timestamp{1017656415, 123456789}));
    EXPECT_EQ(parse_iso8601("2002-04-01T12:20:15+02:00"), (timestamp{1017656415, 0}));
    EXPECT_EQ(parse_iso8601("2002-04-01T05:50:15.5-04:30"), (timestamp{1017656415, 500000000}));
    EXPECT_EQ(parse_iso8601("2002-04-01T10:20:15"), (timestamp{1017656415, 0}));
    EXPECT_EQ(parse_iso8601("2002-04-01"), (timestamp{1017619200, 0}));
    EXPECT_EQ(parse_iso8601("2000-02-29T00:00:00Z"), (timestamp{951782400, 0}));
    EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59.5Z"), (timestamp{-1, 500000000}));
    EXPECT_EQ(parse_iso8601("0001-01-01T00:00:00Z"), (timestamp{-62135596800, 0}));
    EXPECT_EQ(parse_iso8601("+275760-09-13T00:00:00.000Z"), (timestamp{8640000000000, 0}));
    EXPECT_EQ(parse_iso8601("-000001-12-31T23:59:59Z"), (timestamp{-62167219201, 0}));

    for (const char* bad : {"",
                            "abc",
                            "2002",
                            "2002-04",
                            "2002-4-01",
                            "2002-04-1",
                            "2002-13-01",
                            "2002-00-01",
                            "2002-02-29",
                            "2001-02-29T00:00:00Z",
                            "1900-02-29",
                            "2002-04-31",
                            "2002-04-00",
                            "2002-04-01T24:00:00Z",
                            "2002-04-01T10:60:00Z",
                            "2002-04-01T10:20:60Z",
                            "2002-04-01T10:20Z",
                            "2002-04-01 10:20:15Z",
                            "2002-04-01t10:20:15Z",
                            "2002-04-01T10:20:15.Z",
                            "2002-04-01T10:20:15Zx",
                            "2002-04-01T10:20:15+0200",
                            "2002-04-01T10:20:15+24:00",
                            "2002-04-01T",
                            "+2002-04-01",
                            "20020-04-01",
                            " 2002-04-01T10:20:15Z"}) {
        EXPECT_EQ(parse_iso8601(bad), std::nullopt) << bad;
    }
}

TEST(hub_value, iso8601_round_trips) {
    std::mt19937_64 random(42);
    // Years -999999..999999, the range the expanded form can be read back in.
    std::uniform_int_distribution<std::int64_t> seconds(-31619087596800, 31494784780799);
    std::uniform_int_distribution<std::uint32_t> nanoseconds(0, 999'999'999);
    for (int i = 0; i < 20000; ++i) {
        const timestamp time{seconds(random), i % 3 == 0 ? 0 : nanoseconds(random)};
        const std::string text = iso(time.seconds, time.nanoseconds);
        EXPECT_EQ(parse_iso8601(text), time) << text;
    }
    // Every day of a leap cycle and around the epoch.
    for (std::int64_t day = -800; day < 146097 + 800; ++day) {
        const timestamp time{day * 86400 + 3661, 0};
        EXPECT_EQ(parse_iso8601(iso(time.seconds)), time);
    }
}

// --- JSON rendering
// --------------------------------------------------------------------------------

TEST(hub_value, json_writer_renders_binary_as_base64) {
    EXPECT_EQ(to_json(make_binary(std::string_view("\0\1\2\xfe\xff", 5))), "\"AAEC/v8=\"");
    EXPECT_EQ(to_json(make_binary(std::string_view())), "\"\"");
    json::array nested{1, make_binary(std::string_view("hello")),
                       json::object{{"b", make_binary(std::string_view("hel"))}}};
    EXPECT_EQ(to_json(nested), R"([1,"aGVsbG8=",{"b":"aGVs"}])");
}

TEST(hub_value, json_writer_renders_timestamps_as_iso8601) {
    EXPECT_EQ(to_json(make_timestamp(1017656415, 0)), "\"2002-04-01T10:20:15Z\"");
    EXPECT_EQ(to_json(make_timestamp(1017656415, 123456700)), "\"2002-04-01T10:20:15.1234567Z\"");
}

TEST(hub_value, json_writer_keeps_malformed_tags_as_objects) {
    EXPECT_EQ(to_json(json::parse(R"({"\u0000bin":5})")), R"({"\u0000bin":5})");
    EXPECT_EQ(to_json(json::parse(R"({"\u0000ts":[1,1000000000]})")),
              R"({"\u0000ts":[1,1000000000]})");
    EXPECT_EQ(to_json(json::parse(R"({"\u0000other":"x"})")), R"({"\u0000other":"x"})");
    EXPECT_EQ(to_json(json::parse(R"({"a":"x"})")), R"({"a":"x"})");
}

// A MessagePack client's byte[] and DateTime reach JSON clients as ASP.NET's JSON protocol
// would send them.
TEST(hub_value, messagepack_values_reach_json_clients) {
    // [1, {}, nil, "method", [bin 01 02 03, timestamp 2002-04-01T10:20:15Z], []]
    const std::string body(
        "\x96\x01\x80\xc0\xa6method\x92\xc4\x03\x01\x02\x03\xd6\xff\x3c\xa8\x34\x5f\x90", 24);
    const auto message = parse_messagepack_message(body);
    ASSERT_TRUE(message) << message.error_message();
    const auto& invocation = std::get<invocation_message>(*message);
    std::string out;
    write_json_invocation(invocation.target, invocation.arguments, out);
    EXPECT_EQ(out,
              "{\"type\":1,\"target\":\"method\",\"arguments\":[\"AQID\","
              "\"2002-04-01T10:20:15Z\"]}\x1e");

    std::string completion;
    write_json_message(completion_message::with_result("1", make_binary(std::string_view("hi"))),
                       completion);
    EXPECT_EQ(completion, "{\"type\":3,\"invocationId\":\"1\",\"result\":\"aGk=\"}\x1e");
}

// --- boost::json conversions
// -----------------------------------------------------------------------

TEST(hub_value, value_from_gives_tagged_values) {
    const binary data{{0x01, 0x02}};
    const auto value = json::value_from(data);
    ASSERT_NE(as_binary(value), nullptr);
    EXPECT_EQ(as_binary(value)->size(), 2u);
    EXPECT_EQ(as_timestamp(json::value_from(timestamp{5, 6})), (timestamp{5, 6}));
    const std::vector<binary> list{data, binary{}};
    const auto array = json::value_from(list);
    ASSERT_TRUE(array.is_array());
    EXPECT_NE(as_binary(array.get_array()[1]), nullptr);
}

TEST(hub_value, value_to_binary_from_both_representations) {
    const binary expected{{0x00, 0x01, 0xfe, 0xff}};
    // From MessagePack (tagged) ...
    EXPECT_EQ(json::value_to<binary>(make_binary(expected.bytes)), expected);
    // ... and from JSON (base64).
    EXPECT_EQ(json::value_to<binary>(json::value("AAH+/w==")), expected);
    EXPECT_EQ(json::value_to<binary>(json::value("")), binary{});

    EXPECT_FALSE(json::try_value_to<binary>(json::value("not base64!")));
    EXPECT_FALSE(json::try_value_to<binary>(json::value(5)));
    EXPECT_FALSE(json::try_value_to<binary>(json::value(nullptr)));
    EXPECT_FALSE(json::try_value_to<binary>(json::parse("[1,2]")));
    EXPECT_FALSE(json::try_value_to<binary>(make_timestamp(1, 0)));

    const auto list = json::try_value_to<std::vector<binary>>(json::parse(R"(["AQ==","Ag=="])"));
    ASSERT_TRUE(list);
    EXPECT_EQ(*list, (std::vector<binary>{binary{{1}}, binary{{2}}}));
}

TEST(hub_value, value_to_timestamp_from_both_representations) {
    const timestamp expected{1017656415, 123456700};
    EXPECT_EQ(json::value_to<timestamp>(make_timestamp(expected)), expected);
    EXPECT_EQ(json::value_to<timestamp>(json::value("2002-04-01T10:20:15.1234567Z")), expected);
    EXPECT_EQ(json::value_to<timestamp>(json::value("2002-04-01T10:20:15Z")),
              (timestamp{1017656415, 0}));

    EXPECT_FALSE(json::try_value_to<timestamp>(json::value("yesterday")));
    EXPECT_FALSE(json::try_value_to<timestamp>(json::value(1017656415)));
    EXPECT_FALSE(json::try_value_to<timestamp>(make_binary(std::string_view("x"))));
}

TEST(hub_value, binary_and_timestamp_survive_messagepack_and_json_relays) {
    const binary data{{0x10, 0x20, 0x30, 0x40, 0x50}};
    const timestamp time{1017656415, 123456700};
    json::array args{json::value_from(data), json::value_from(time)};

    // Through MessagePack: the same tagged values come back.
    std::string framed;
    write_messagepack_invocation("m", args, framed);
    const auto message = parse_messagepack_message(std::string_view(framed).substr(1));
    ASSERT_TRUE(message) << message.error_message();
    const auto& relayed = std::get<invocation_message>(*message).arguments;
    EXPECT_EQ(json::value_to<binary>(relayed[0]), data);
    EXPECT_EQ(json::value_to<timestamp>(relayed[1]), time);

    // Through JSON: strings, which still bind to the same types.
    std::string text;
    write_json_invocation("m", relayed, text);
    text.pop_back();
    const auto parsed = parse_json_message(text);
    ASSERT_TRUE(parsed) << parsed.error_message();
    const auto& from_json = std::get<invocation_message>(*parsed).arguments;
    EXPECT_TRUE(from_json[0].is_string());
    EXPECT_EQ(json::value_to<binary>(from_json[0]), data);
    EXPECT_EQ(json::value_to<timestamp>(from_json[1]), time);
}

}  // namespace
}  // namespace switchboard::protocol
