#include "core/utf8.hpp"

#include <gtest/gtest.h>

namespace switchboard {
namespace {

TEST(utf8, accepts_every_valid_form) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii"));
    EXPECT_TRUE(is_valid_utf8("\xC3\xA9"));                 // é
    EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));             // €
    EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));         // 😀
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));         // U+10FFFF
    EXPECT_TRUE(is_valid_utf8(std::string_view("\0", 1)));  // NUL is a character
}

TEST(utf8, refuses_what_rfc_3629_forbids) {
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
}

TEST(utf8, repair_replaces_each_bad_byte_and_keeps_the_rest) {
    EXPECT_EQ(to_valid_utf8("ok"), "ok");
    EXPECT_EQ(to_valid_utf8("a\xFF"
                            "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(to_valid_utf8("\xE2\x82"
                            "x"),
              "\xEF\xBF\xBD\xEF\xBF\xBD"
              "x");
    EXPECT_EQ(to_valid_utf8("\xC3\xA9\xC0"), "\xC3\xA9\xEF\xBF\xBD");
    EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xF0\x9F\x98\x80\xF0\x9F\x98")));
}

TEST(utf8_validator, follows_rfc_3629) {
    const auto valid = [](std::string_view text) {
        utf8_validator validator;
        return validator.feed(text) && validator.complete();
    };
    EXPECT_TRUE(valid("plain ascii that is longer than a word"));
    EXPECT_TRUE(valid("\xc2\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
    EXPECT_FALSE(valid("\xc0\xaf"));          // overlong two-byte form
    EXPECT_FALSE(valid("\xe0\x80\xaf"));      // overlong three-byte form
    EXPECT_FALSE(valid("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(valid("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(valid("\xf5\x80\x80\x80"));  // no such lead byte
    EXPECT_FALSE(valid("\x80"));              // lone continuation
    EXPECT_FALSE(valid("ok\xe2\x82"));        // truncated
}

TEST(utf8_validator, carries_a_character_across_chunks) {
    const std::string_view euro = "\xe2\x82\xac";
    for (std::size_t split = 0; split <= euro.size(); ++split) {
        utf8_validator validator;
        EXPECT_TRUE(validator.feed(euro.substr(0, split)));
        EXPECT_EQ(validator.complete(), split == 0 || split == euro.size());
        EXPECT_TRUE(validator.feed(euro.substr(split)));
        EXPECT_TRUE(validator.complete());
    }
}

}  // namespace
}  // namespace switchboard
