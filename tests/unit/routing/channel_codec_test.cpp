#include "routing/channel_codec.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

// Names a hostile or merely unusual client can produce: group names and user ids are theirs.
std::vector<std::string> hostile_names() {
    return {"",
            "MyApp.Hubs.ChatHub:group:room",
            "MyApp.Hubs.ChatHub:all",
            "a.b.c",
            "with space",
            "*",
            ">",
            "foo.*.>",
            "%",
            "%41",
            "%%",
            "#",
            "#0123456789ABCDEF0123456789ABCDEF",
            std::string("nul\0inside", 10),
            "\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80",  // UTF-8
            "\xFF\xFE invalid UTF-8",
            "tab\tnewline\n",
            "_-_",
            "A",
            "a",
            std::string(62, 'x'),
            std::string(63, 'x'),
            std::string(64, 'x'),
            std::string(10'000, '.')};
}

TEST(channel_codec, identity_keeps_every_byte) {
    const identity_channel_codec codec;
    for (const auto& name : hostile_names()) {
        EXPECT_EQ(codec.to_bus(name), name);
        EXPECT_EQ(codec.from_bus(name), name);
    }
}

bool subject_token_safe(std::string_view token) {
    for (const char c : token) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
                        (u >= '0' && u <= '9') || u == '_' || u == '-' || u == '%';
        if (!ok) {
            return false;
        }
    }
    return !token.empty();
}

TEST(channel_codec, token_round_trips_and_stays_subject_safe) {
    const token_channel_codec codec;
    std::set<std::string> seen;
    for (const auto& name : hostile_names()) {
        const auto token = codec.to_bus(name);
        EXPECT_TRUE(subject_token_safe(token)) << token;
        EXPECT_EQ(codec.from_bus(token), name) << token;
        EXPECT_TRUE(seen.insert(token).second) << "two names share " << token;
    }
}

TEST(channel_codec, token_is_exact_and_canonical) {
    const token_channel_codec codec;
    EXPECT_EQ(codec.to_bus("Hub:group:a.b c*>"), "Hub%3Agroup%3Aa%2Eb%20c%2A%3E");
    EXPECT_EQ(codec.to_bus(""), "%");
    // Other spellings of a name are refused, which keeps the mapping a bijection.
    EXPECT_EQ(codec.from_bus("%41"), std::nullopt);  // an escaped safe byte
    EXPECT_EQ(codec.from_bus("%3a"), std::nullopt);  // lowercase hex
    EXPECT_EQ(codec.from_bus("a%3"), std::nullopt);  // cut escape
    EXPECT_EQ(codec.from_bus("a.b"), std::nullopt);  // raw unsafe byte
    EXPECT_EQ(codec.from_bus(""), std::nullopt);
    EXPECT_EQ(codec.from_bus("%%"), std::nullopt);
}

TEST(channel_codec, token_prefix_roots_the_subjects) {
    const token_channel_codec codec("switchboard.");
    EXPECT_EQ(codec.to_bus("Hub:all"), "switchboard.Hub%3Aall");
    EXPECT_EQ(codec.from_bus("switchboard.Hub%3Aall"), "Hub:all");
    EXPECT_EQ(codec.from_bus("other.Hub%3Aall"), std::nullopt);  // not ours
}

TEST(channel_codec, bounded_keeps_short_names_and_digests_the_rest) {
    const bounded_channel_codec codec;  // PostgreSQL: 63 bytes
    std::set<std::string> seen;
    for (const auto& name : hostile_names()) {
        const auto identifier = codec.to_bus(name);
        EXPECT_LE(identifier.size(), 63U);
        EXPECT_EQ(identifier.find('\0'), std::string::npos);
        EXPECT_TRUE(seen.insert(identifier).second) << "two names share " << identifier;
        const auto back = codec.from_bus(identifier);
        if (identifier.starts_with('#')) {
            EXPECT_EQ(back, std::nullopt);  // resolved through the bus's subscriptions
            EXPECT_EQ(identifier.size(), 33U);
        } else {
            EXPECT_EQ(back, name);
        }
    }
    EXPECT_EQ(codec.to_bus(std::string(63, 'x')), std::string(63, 'x'));
    EXPECT_NE(codec.to_bus(std::string(64, 'x')), std::string(64, 'x'));
}

TEST(channel_codec, bounded_digests_are_fixed_across_versions) {
    // A released mapping never changes: instances of two releases must meet on one server.
    const bounded_channel_codec codec;
    EXPECT_EQ(codec.to_bus(std::string(64, 'x')), codec.to_bus(std::string(64, 'x')));
    EXPECT_EQ(codec.to_bus(""), "");
    EXPECT_EQ(codec.to_bus("#"), "#" + std::string("334359B90EFED75DA5F0ADA1D5E6B256"));
}

TEST(channel_codec, bounded_limit_must_hold_a_digest) {
    EXPECT_THROW(bounded_channel_codec(32), std::invalid_argument);
    EXPECT_NO_THROW(bounded_channel_codec(33));
}

}  // namespace
}  // namespace switchboard::routing
