#include "core/base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard {
namespace {

std::string base64(std::string_view bytes) {
    std::string out;
    append_base64(bytes, out);
    return out;
}

TEST(base64, writes_rfc_4648_vectors) {
    EXPECT_EQ(base64(""), "");
    EXPECT_EQ(base64("f"), "Zg==");
    EXPECT_EQ(base64("fo"), "Zm8=");
    EXPECT_EQ(base64("foo"), "Zm9v");
    EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64("\xfb\xff"), "+/8=");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(base64, decodes_what_it_writes) {
    for (const std::string_view bytes :
         {std::string_view(""), std::string_view("h"), std::string_view("he"),
          std::string_view("hel"), std::string_view("hello world"),
          std::string_view("\0\1\2\xfe\xff", 5)}) {
        std::string decoded;
        ASSERT_TRUE(decode_base64(base64(bytes), decoded));
        EXPECT_EQ(decoded, bytes);
    }
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all.push_back(static_cast<char>(i));
    }
    std::string decoded;
    ASSERT_TRUE(decode_base64(base64(all), decoded));
    EXPECT_EQ(decoded, all);
}

TEST(base64, refuses_what_it_never_writes) {
    for (const char* bad : {"a", "aGV", "aGVsbA=", "aG=s", "a===", "====", "aGVs\n",
                            "aGVs bA==", "aGVsbA-_", "=GVs", "aGVsbA==aGVs"}) {
        std::string out;
        EXPECT_FALSE(decode_base64(bad, out)) << bad;
    }
}

TEST(base64url, round_trips_every_length) {
    std::string bytes;
    for (int i = 0; i < 40; ++i) {
        const auto decoded = base64url_decode(base64url_encode(bytes));
        ASSERT_TRUE(decoded);
        EXPECT_EQ(*decoded, bytes);
        bytes += static_cast<char>(i * 37 + 250);
    }
}

TEST(base64url, is_strict) {
    EXPECT_FALSE(base64url_decode("YQ=="));   // padding
    EXPECT_FALSE(base64url_decode("a+b/"));   // base64, not base64url
    EXPECT_FALSE(base64url_decode("abcde"));  // 4n+1 characters
    EXPECT_FALSE(base64url_decode("YR"));     // non-zero trailing bits
    EXPECT_EQ(base64url_decode("YQ"), "a");
    EXPECT_EQ(base64url_decode(""), "");
}

}  // namespace
}  // namespace switchboard
