// Redis Cluster hash slots: CRC16 (XMODEM) against known vectors, and the hash tag rule.
#include "routing/redis/cluster_client.hpp"

#include <gtest/gtest.h>

namespace switchboard::routing::redis {
namespace {

TEST(RedisClusterSlot, Crc16KnownVectors) {
    // The CRC16/XMODEM check value of "123456789" is 0x31C3 (Redis's crc16.c says so too).
    EXPECT_EQ(key_slot("123456789"), 0x31C3 % cluster_slot_count);
    EXPECT_EQ(key_slot("123456789"), 12739);
    // Values from redis-cli CLUSTER KEYSLOT.
    EXPECT_EQ(key_slot("foo"), 12182);
    EXPECT_EQ(key_slot("bar"), 5061);
    EXPECT_EQ(key_slot(""), 0);
}

TEST(RedisClusterSlot, HashTags) {
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
    EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
    EXPECT_EQ(key_slot("{user1000}.following"), 3443);
    // Only the first '{' and the next '}' count; an empty tag hashes the whole key. Values
    // from redis-cli CLUSTER KEYSLOT (Redis 7.0).
    EXPECT_EQ(key_slot("foo{}{bar}"), 8363);
    EXPECT_EQ(key_slot("foo{{bar}}zap"), 4015);  // the tag is "{bar"
    EXPECT_EQ(key_slot("{bar"), 4015);
    EXPECT_EQ(key_slot("foo{bar}{zap}"), 5061);  // the tag is "bar"
    EXPECT_EQ(key_slot("{unclosed"), 470);
}

TEST(RedisClusterSlot, EverySlotIsInRange) {
    for (int i = 0; i < 1000; ++i) {
        EXPECT_LT(key_slot("channel" + std::to_string(i)), cluster_slot_count);
    }
}

}  // namespace
}  // namespace switchboard::routing::redis
