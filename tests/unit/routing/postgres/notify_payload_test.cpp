#include "routing/postgres/notify_payload.hpp"

#include "routing/channel_codec.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace switchboard::routing::postgres {
namespace {

TEST(postgres_notify_payload, inline_round_trip_of_every_byte) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes.push_back(static_cast<char>(i));
    }
    for (const std::string& payload : {std::string(), std::string("a"), bytes}) {
        std::string text;
        encode_inline(42, payload, text);
        EXPECT_EQ(text.rfind("i2a:", 0), 0u);
        const auto decoded = decode_notify(text);
        ASSERT_TRUE(decoded) << text;
        ASSERT_TRUE(std::holds_alternative<inline_payload>(*decoded));
        EXPECT_EQ(std::get<inline_payload>(*decoded).bytes, payload);
    }
}

TEST(postgres_notify_payload, identical_payloads_get_distinct_texts) {
    std::string a;
    std::string b;
    encode_inline(1, "same", a);
    encode_inline(2, "same", b);
    EXPECT_NE(a, b);
}

TEST(postgres_notify_payload, the_largest_inline_payload_fits_a_notify) {
    std::string text;
    encode_inline(~std::uint64_t{0}, std::string(max_inline_bytes(), '\xff'), text);
    EXPECT_LT(text.size(), 8000u);
    EXPECT_EQ(max_inline_bytes(), 5985u);
    EXPECT_TRUE(decode_notify(text));
}

TEST(postgres_notify_payload, references) {
    const auto text = reference_prefix(255) + "9223372036854775807";
    EXPECT_EQ(text.rfind("rff:", 0), 0u);
    const auto decoded = decode_notify(text);
    ASSERT_TRUE(decoded);
    ASSERT_TRUE(std::holds_alternative<payload_reference>(*decoded));
    EXPECT_EQ(std::get<payload_reference>(*decoded).row_id, 9223372036854775807);
}

TEST(postgres_notify_payload, malformed_inputs_are_rejected) {
    for (const std::string text : {"",
                                   "i",
                                   "i1",
                                   "x1:AAAA",
                                   "i:AAAA",
                                   "iG:AAAA",
                                   "iA:AAAA",
                                   "i1:AAA",
                                   "i1:A===",
                                   "i1:!!!!",
                                   "i12345678901234567:AAAA",
                                   "r1:",
                                   "r1:0",
                                   "r1:-5",
                                   "r1:01",
                                   "r1:12a",
                                   "r1:99999999999999999999",
                                   "r1: 5",
                                   "{\"Id\":1}",
                                   "not ours"}) {
        EXPECT_FALSE(decode_notify(text)) << text;
    }
    EXPECT_FALSE(decode_notify("i1:" + std::string(8000, 'A')));
    EXPECT_TRUE(decode_notify("i1:"  // an empty payload is valid
                              ));
}

// The names the bus LISTENs to: what the bounded codec (63-byte identifiers) makes of them.
TEST(postgres_channel_names, long_and_odd_names_map_into_identifiers) {
    const bounded_channel_codec codec(63);
    const std::string hub = "MyApp.Hubs.ChatHub";
    const std::vector<std::string> names{
        hub + ":group:" + std::string(200, 'g'),
        hub + ":group:" + std::string(199, 'g') + "h",
        hub + ":internal:return:server-1",
        "Hub:group:with \"double\" and 'single' quotes",
        "Hub:group:grüße 日本",
        std::string("nul\0inside", 10),
        "#hash first",
        std::string(63, 'x'),
        std::string(64, 'x'),
    };
    std::set<std::string> seen;
    for (const auto& name : names) {
        const auto bus = codec.to_bus(name);
        EXPECT_LE(bus.size(), 63u) << name;
        EXPECT_EQ(bus.find('\0'), std::string::npos);
        EXPECT_TRUE(seen.insert(bus).second) << "collision for " << name;
        const auto back = codec.from_bus(bus);
        if (back) {
            EXPECT_EQ(*back, name);  // short names stay readable and invert
        } else {
            EXPECT_EQ(bus.front(), '#');  // digests are resolved through the subscriptions
        }
    }
    EXPECT_EQ(codec.to_bus(std::string(63, 'x')), std::string(63, 'x'));
    EXPECT_EQ(codec.to_bus("Hub:group:grüße 日本"), "Hub:group:grüße 日本");
}

}  // namespace
}  // namespace switchboard::routing::postgres
