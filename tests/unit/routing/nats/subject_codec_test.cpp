// Logical channel names as NATS subjects: the token codec with the backplane's prefix.
#include "routing/channel_codec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing {
namespace {

// What the NATS server takes as one literal subject under the prefix: no whitespace, no
// wildcard, no empty token, nothing outside printable ASCII.
bool literal_subject_token(std::string_view token) {
    if (token.empty()) {
        return false;
    }
    for (const unsigned char c : token) {
        if (c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>') {
            return false;
        }
    }
    return true;
}

TEST(nats_subject, names_round_trip_as_one_literal_token) {
    const token_channel_codec codec("switchboard.");
    const std::string names[] = {"",
                                 "Chat.Hub:all",
                                 "a*b",
                                 "a>b",
                                 ">",
                                 "*",
                                 "with space\tand\nnewline",
                                 "chat:group:room:1",
                                 "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
                                 std::string("nul\0byte", 8),
                                 "%41 already%2Eescaped",
                                 std::string(200, '.'),
                                 std::string(200, 'x'),
                                 std::string(200, '\xff')};
    for (const auto& name : names) {
        const auto subject = codec.to_bus(name);
        ASSERT_TRUE(subject.starts_with("switchboard.")) << subject;
        EXPECT_TRUE(literal_subject_token(std::string_view(subject).substr(12))) << subject;
        const auto back = codec.from_bus(subject);
        ASSERT_TRUE(back.has_value()) << subject;
        EXPECT_EQ(*back, name);
    }
}

TEST(nats_subject, distinct_names_get_distinct_subjects) {
    const token_channel_codec codec("p.");
    EXPECT_NE(codec.to_bus("a.b"), codec.to_bus("a%2Eb"));
    EXPECT_NE(codec.to_bus("a b"), codec.to_bus("a_b"));
    EXPECT_NE(codec.to_bus(""), codec.to_bus("%"));
}

TEST(nats_subject, foreign_subjects_do_not_decode) {
    const token_channel_codec codec("switchboard.");
    EXPECT_FALSE(codec.from_bus("other.chat"));
    EXPECT_FALSE(codec.from_bus("switchboard."));
    EXPECT_FALSE(codec.from_bus("switchboard.a.b"));  // a raw dot: not one token
    EXPECT_FALSE(codec.from_bus("switchboard.%2e"));  // lowercase hex is not canonical
    EXPECT_FALSE(codec.from_bus("switchboard.%41"));  // an escaped safe byte
    EXPECT_FALSE(codec.from_bus("switchboard.%zz"));
    EXPECT_FALSE(codec.from_bus("switchboard.%4"));
}

}  // namespace
}  // namespace switchboard::routing
