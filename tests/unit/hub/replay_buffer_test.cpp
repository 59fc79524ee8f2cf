#include "hub/replay_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::hub {
namespace {

std::vector<std::string> kept(const replay_buffer& buffer) {
    std::vector<std::string> out;
    buffer.for_each_kept([&](const shared_buffer& bytes) { out.push_back(*bytes); });
    return out;
}

TEST(replay_buffer, off_keeps_nothing_and_accepts_everything) {
    replay_buffer buffer(100);
    EXPECT_FALSE(buffer.enabled());
    EXPECT_TRUE(buffer.track(make_shared_buffer("abc")));
    EXPECT_TRUE(kept(buffer).empty());
    EXPECT_EQ(buffer.sent(), 0);
    EXPECT_TRUE(buffer.accept());
    EXPECT_TRUE(buffer.accept());
    EXPECT_FALSE(buffer.take_ack());
}

TEST(replay_buffer, numbers_sent_messages_and_drops_acked_ones) {
    replay_buffer buffer(100);
    buffer.enable();
    EXPECT_EQ(buffer.first_kept(), 1);
    for (const char* message : {"a", "bb", "ccc"}) {
        EXPECT_TRUE(buffer.track(make_shared_buffer(message)));
    }
    EXPECT_EQ(buffer.sent(), 3);
    EXPECT_EQ(buffer.bytes(), 6u);
    EXPECT_EQ(kept(buffer), (std::vector<std::string>{"a", "bb", "ccc"}));
    buffer.on_ack(2);
    EXPECT_EQ(buffer.first_kept(), 3);
    EXPECT_EQ(buffer.bytes(), 3u);
    EXPECT_EQ(kept(buffer), std::vector<std::string>{"ccc"});
    buffer.on_ack(1);  // an old ack changes nothing
    EXPECT_EQ(buffer.first_kept(), 3);
    buffer.on_ack(3);
    EXPECT_TRUE(kept(buffer).empty());
    EXPECT_EQ(buffer.bytes(), 0u);
    EXPECT_EQ(buffer.first_kept(), 4);  // the next message's id
}

TEST(replay_buffer, overflow_turns_stateful_reconnect_off) {
    replay_buffer buffer(5);
    buffer.enable();
    EXPECT_TRUE(buffer.track(make_shared_buffer("12345")));
    EXPECT_FALSE(buffer.track(make_shared_buffer("6")));
    EXPECT_FALSE(buffer.enabled());
    EXPECT_TRUE(kept(buffer).empty());
    EXPECT_EQ(buffer.bytes(), 0u);
    // Off now: nothing more is kept and nothing received is a duplicate.
    EXPECT_TRUE(buffer.track(make_shared_buffer("7")));
    EXPECT_TRUE(kept(buffer).empty());
    EXPECT_TRUE(buffer.accept());
}

TEST(replay_buffer, received_messages_replayed_after_a_sequence_are_skipped) {
    replay_buffer buffer(100);
    buffer.enable();
    EXPECT_TRUE(buffer.accept());  // 1
    EXPECT_TRUE(buffer.accept());  // 2
    EXPECT_TRUE(buffer.accept());  // 3
    EXPECT_EQ(buffer.take_ack(), 3);
    EXPECT_FALSE(buffer.take_ack());  // nothing new since
    // The client reconnects and replays from 2: 2 and 3 were handled, 4 is new.
    EXPECT_TRUE(buffer.on_sequence(2));
    EXPECT_FALSE(buffer.accept());
    EXPECT_FALSE(buffer.accept());
    EXPECT_TRUE(buffer.accept());
    EXPECT_EQ(buffer.take_ack(), 4);
}

TEST(replay_buffer, sequence_past_what_was_received_is_refused) {
    replay_buffer buffer(100);
    buffer.enable();
    EXPECT_TRUE(buffer.accept());
    EXPECT_TRUE(buffer.on_sequence(2));  // the next id: nothing replayed
    EXPECT_FALSE(buffer.on_sequence(3));
}

}  // namespace
}  // namespace switchboard::hub
