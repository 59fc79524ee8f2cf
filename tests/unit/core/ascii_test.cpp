#include "core/ascii.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string_view>

namespace switchboard {
namespace {

TEST(ascii, iequals_ignores_ascii_case_only) {
    EXPECT_TRUE(ascii_iequals("Host", "hOST"));
    EXPECT_TRUE(ascii_iequals("", ""));
    EXPECT_FALSE(ascii_iequals("host", "hos"));
    EXPECT_FALSE(ascii_iequals("h0st", "host"));
    // Bytes above ASCII compare as they are: no locale folds them.
    EXPECT_FALSE(ascii_iequals("\xc3\x89", "\xc3\xa9"));
    EXPECT_TRUE(ascii_istarts_with("PostgreSQL://x", "postgresql://"));
    EXPECT_FALSE(ascii_istarts_with("post", "postgres"));
}

TEST(ascii, trim_drops_ascii_whitespace_at_both_ends_only) {
    EXPECT_EQ(ascii_trim(" \t host=x \r\n"), "host=x");
    EXPECT_EQ(ascii_trim("a b"), "a b");
    EXPECT_EQ(ascii_trim(" \v\f "), "");
    EXPECT_EQ(ascii_trim("\xc2\xa0x"), "\xc2\xa0x");  // UTF-8 no-break space is not ASCII
}

TEST(ascii, iequals_reads_nothing_past_its_inputs) {
    // Exactly sized heap buffers differing in case at the end: ASan flags any read beyond
    // (Beast 1.81's iequals reads one byte past both).
    const auto a = std::make_unique<char[]>(1);
    const auto b = std::make_unique<char[]>(1);
    a[0] = 'A';
    b[0] = 'a';
    EXPECT_TRUE(ascii_iequals(std::string_view(a.get(), 1), std::string_view(b.get(), 1)));
}

}  // namespace
}  // namespace switchboard
