// The NATS KV presence layout: every name becomes a valid, unambiguous key token, and values
// read back as written (and refuse what they did not write).
#include "presence/nats/presence_layout.hpp"

#include <gtest/gtest.h>

#include <set>

namespace switchboard::presence::nats {
namespace {

bool valid_token(const std::string& token) {
    if (token.empty()) {
        return false;
    }
    for (const char c : token) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '=';
        if (!allowed) {
            return false;
        }
    }
    return true;
}

TEST(NatsPresenceLayout, EncodesAnyNameAsOneTokenThatDecodesBack) {
    const std::vector<std::string> names{"",
                                         "alice",
                                         "a.b",
                                         "a_b",
                                         "_41",
                                         "=",
                                         "x:u:y",
                                         "*",
                                         ">",
                                         "日本",
                                         "a b",
                                         "-",
                                         std::string("\0\x1f\xff", 3)};
    std::set<std::string> tokens;
    for (const auto& name : names) {
        const auto token = encode_token(name);
        EXPECT_TRUE(valid_token(token)) << token;
        EXPECT_EQ(decode_token(token), name);
        EXPECT_TRUE(tokens.insert(token).second) << name << " aliases another name";
    }
    EXPECT_EQ(encode_token("alice-1"), "alice-1");  // readable where it can be
    EXPECT_EQ(encode_token("a.b"), "a_2Eb");
}

TEST(NatsPresenceLayout, KeepsHubsAndPrefixesApart) {
    const layout a("test:");
    const layout b("test");
    EXPECT_NE(a.user("chat", "alice"), b.user("chat", "alice"));
    EXPECT_NE(a.user("x.u.y", "z"), a.user("x", "y.u.z"));
    EXPECT_EQ(a.user("chat", "alice"), "test_3A.h.chat.u.alice");
    EXPECT_EQ(a.users("chat"), "test_3A.h.chat.u.*");
    EXPECT_EQ(a.member("chat", "room", "c1"), "test_3A.h.chat.g.room.c1");
    EXPECT_EQ(a.index_of("a#1"), "test_3A.x.a_231.>");
    EXPECT_EQ(layout("").heartbeat("a"), "=.i.a");
}

TEST(NatsPresenceLayout, ValuesReadBackAsWritten) {
    const user_record record{"al:ice", true, {{"c1", "a#1", 17}, {"", "b:2", 0}}};
    const auto user = decode_user(encode(record));
    ASSERT_TRUE(user);
    EXPECT_EQ(user->user, "al:ice");
    EXPECT_TRUE(user->reported);
    ASSERT_EQ(user->connections.size(), 2U);
    EXPECT_EQ(user->connections[1].incarnation, "b:2");
    EXPECT_EQ(user->connections[0].connected_at_ms, 17U);

    const auto index = decode_index(encode(index_entry{"chat", "c1", "", {"r1", "r:2"}}));
    ASSERT_TRUE(index);
    EXPECT_EQ(index->groups, (std::vector<std::string>{"r1", "r:2"}));
    EXPECT_EQ(index->user, "");

    const auto member = decode_member(encode(member_entry{"a#1", 5, "bob"}));
    ASSERT_TRUE(member);
    EXPECT_EQ(member->user, "bob");

    const auto state = decode_state(encode(state_value{9, std::string("a\0b", 3)}));
    ASSERT_TRUE(state);
    EXPECT_EQ(state->value, std::string("a\0b", 3));
    EXPECT_EQ(state->deadline_ms, 9U);
}

TEST(NatsPresenceLayout, RefusesValuesItDidNotWrite) {
    EXPECT_FALSE(decode_user("alice"));
    EXPECT_FALSE(
        decode_user("5:alice1:1"
                    "2:c1"));  // a connection cut short
    EXPECT_FALSE(decode_member("99:x"));
    EXPECT_FALSE(decode_state("1:x1:y"));     // not a number
    EXPECT_FALSE(decode_state("1:51:y1:z"));  // a field too many
}

}  // namespace
}  // namespace switchboard::presence::nats
