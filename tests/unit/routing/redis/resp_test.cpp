#include "routing/redis/resp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace switchboard::routing::redis::resp {
namespace {

using namespace std::string_view_literals;

TEST(resp, sizes_every_reply_kind) {
    EXPECT_EQ(reply_size("+OK\r\n"), 5u);
    EXPECT_EQ(reply_size("-ERR wrong\r\n"), 12u);
    EXPECT_EQ(reply_size(":42\r\n"), 5u);
    EXPECT_EQ(reply_size(":-1\r\n"), 5u);
    EXPECT_EQ(reply_size("$5\r\nhello\r\n"), 11u);
    EXPECT_EQ(reply_size("$0\r\n\r\n"), 6u);
    EXPECT_EQ(reply_size("$-1\r\n"), 5u);
    EXPECT_EQ(reply_size("*-1\r\n"), 5u);
    EXPECT_EQ(reply_size("*0\r\n"), 4u);
    // Nested: ["subscribe", "a", 1] then [["x"], 2].
    EXPECT_EQ(reply_size("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"), 30u);
    EXPECT_EQ(reply_size("*2\r\n*1\r\n$1\r\nx\r\n:2\r\n"), 19u);
}

TEST(resp, sizes_only_the_first_reply) {
    EXPECT_EQ(reply_size(":1\r\n:2\r\n"), 4u);
    EXPECT_EQ(reply_size("$2\r\n\r\n\r\n+OK\r\n"), 8u);  // a payload may hold CRLF
}

TEST(resp, an_incomplete_reply_is_zero_at_every_cut) {
    const std::string full = "*3\r\n$7\r\nmessage\r\n$8\r\nchat:all\r\n$5\r\nhello\r\n";
    ASSERT_EQ(reply_size(full), full.size());
    for (std::size_t cut = 0; cut < full.size(); ++cut) {
        EXPECT_EQ(reply_size(std::string_view(full).substr(0, cut)), 0u) << cut;
    }
}

TEST(resp, refuses_what_is_not_resp2) {
    EXPECT_EQ(reply_size("hello\r\n"), std::nullopt);
    EXPECT_EQ(reply_size("%1\r\n"), std::nullopt);  // RESP3 map
    EXPECT_EQ(reply_size(":x\r\n"), std::nullopt);
    EXPECT_EQ(reply_size("$3\r\nabcde\r\n"), std::nullopt);  // no CRLF after the bytes
    EXPECT_EQ(reply_size("*1\r\n?\r\n"), std::nullopt);
}

TEST(resp, reads_a_publish_reply) {
    EXPECT_EQ(integer_reply(":0\r\n"), 0);
    EXPECT_EQ(integer_reply(":17\r\n"), 17);
    EXPECT_EQ(integer_reply("+OK\r\n"), std::nullopt);
    EXPECT_EQ(integer_reply(":1\r\n:2\r\n"), std::nullopt);  // one reply only
}

TEST(resp, reads_a_pushed_message_in_place) {
    const auto plain = "*3\r\n$7\r\nmessage\r\n$8\r\nchat:all\r\n$7\r\nhi\r\nyou\r\n"sv;
    const auto message = message_reply(plain);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->channel, "chat:all");
    EXPECT_EQ(message->payload, "hi\r\nyou");
    EXPECT_EQ(message->payload.data(), plain.data() + 35);  // a view, not a copy

    const auto sharded = message_reply("*3\r\n$8\r\nsmessage\r\n$1\r\nc\r\n$0\r\n\r\n");
    ASSERT_TRUE(sharded);
    EXPECT_EQ(sharded->channel, "c");
    EXPECT_EQ(sharded->payload, "");

    EXPECT_FALSE(message_reply("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"));
    EXPECT_FALSE(message_reply("*2\r\n$4\r\npong\r\n$0\r\n\r\n"));
    EXPECT_FALSE(message_reply("*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$1\r\nx\r\n"));
}

}  // namespace
}  // namespace switchboard::routing::redis::resp
