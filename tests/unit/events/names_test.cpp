#include "events/names.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::events {
namespace {

TEST(channel_names, printable_ascii_without_spaces_up_to_256_bytes) {
    EXPECT_TRUE(valid_channel("game:42:PlayerJoinedEvent"));
    EXPECT_TRUE(valid_channel("user:alice:NotificationEvent"));
    EXPECT_TRUE(valid_channel("a/b?c=d&e%f"));
    EXPECT_TRUE(valid_channel(std::string(256, 'x')));
    EXPECT_FALSE(valid_channel(std::string(257, 'x')));
    EXPECT_FALSE(valid_channel(""));
    EXPECT_FALSE(valid_channel("a b"));
    EXPECT_FALSE(valid_channel("a\nb"));
    EXPECT_FALSE(valid_channel("a\x7f"));
    EXPECT_FALSE(valid_channel("caf\xc3\xa9"));
}

TEST(event_types, letters_digits_and_punctuation_up_to_128_bytes) {
    EXPECT_TRUE(valid_type("PlayerJoinedEvent"));
    EXPECT_TRUE(valid_type("a.b-c_d:e9"));
    EXPECT_TRUE(valid_type(std::string(128, 'T')));
    EXPECT_FALSE(valid_type(std::string(129, 'T')));
    EXPECT_FALSE(valid_type(""));
    EXPECT_FALSE(valid_type("two words"));
    EXPECT_FALSE(valid_type("a/b"));
    EXPECT_FALSE(valid_type("line\n"));
}

TEST(channel_patterns, shell_style_with_the_callers_user_id) {
    const channel_patterns patterns({"system:*", "user:{user}:*", "game:??"});
    EXPECT_TRUE(patterns.matches("system:all"));
    EXPECT_TRUE(patterns.matches("game:42"));
    EXPECT_FALSE(patterns.matches("game:423"));
    EXPECT_TRUE(patterns.matches("user:alice:Notification", "alice"));
    EXPECT_FALSE(patterns.matches("user:bob:Notification", "alice"));
    // Anonymous callers have no user id: {user} patterns never match for them.
    EXPECT_FALSE(patterns.matches("user::Notification"));
    EXPECT_FALSE(patterns.matches("user::Notification", ""));
    // A user id with wildcards must not widen the pattern.
    EXPECT_FALSE(patterns.matches("user:bob:x", "*"));
    EXPECT_FALSE(patterns.matches("user:b:x", "?"));
    EXPECT_TRUE(channel_patterns{}.empty());
}

}  // namespace
}  // namespace switchboard::events
