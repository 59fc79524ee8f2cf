#include "api/user_groups.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace switchboard::api {
namespace {

using std::chrono::seconds;
const auto t0 = user_group_store::clock::time_point{} + std::chrono::hours(1000);

// Not "g" + std::to_string(i): GCC 12 warns about it (-Wrestrict, a false positive).
std::string named(std::string_view prefix, int i) {
    std::string name(prefix);
    name += std::to_string(i);
    return name;
}

TEST(user_group_store, ttl_expires_and_sweep_reports_it) {
    user_group_store store;
    ASSERT_TRUE(store.add(0, "alice", "g1", seconds(10), t0));
    ASSERT_TRUE(store.add(0, "alice", "g2", std::nullopt, t0));
    EXPECT_TRUE(store.contains(0, "alice", "g1", t0 + seconds(9)));
    EXPECT_FALSE(store.contains(0, "alice", "g1", t0 + seconds(10)));
    EXPECT_FALSE(store.contains(1, "alice", "g2", t0));  // another hub
    EXPECT_EQ(store.groups_of(0, "alice", t0 + seconds(11)), std::vector<std::string>{"g2"});
    const auto gone = store.sweep(t0 + seconds(11));
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].user, "alice");
    EXPECT_EQ(gone[0].group, "g1");
    EXPECT_EQ(store.size(), 1u);
}

TEST(user_group_store, remove_and_remove_all) {
    user_group_store store;
    store.add(0, "bob", "a", std::nullopt, t0);
    store.add(0, "bob", "b", seconds(60), t0);
    store.add(0, "bob", "a", seconds(5), t0);  // rejoin: new expiry, no duplicate
    EXPECT_EQ(store.size(), 2u);
    store.remove(0, "bob", "a");
    EXPECT_FALSE(store.contains(0, "bob", "a", t0));
    store.remove_all(0, "bob");
    EXPECT_EQ(store.size(), 0u);
}

TEST(user_group_store, bounded) {
    user_group_store store(3);
    for (int i = 0; i < 150; ++i) {
        store.add(0, named("u", i % 2), named("g", i), std::nullopt, t0);
    }
    EXPECT_EQ(store.size(), 3u);
    user_group_store lasting;
    for (int i = 0; i < 150; ++i) {
        lasting.add(0, "u", named("g", i), std::nullopt, t0);
    }
    // The latest 100 groups joined without ttl are kept.
    EXPECT_EQ(lasting.size(), user_group_store::max_lasting_groups_per_user);
    EXPECT_FALSE(lasting.contains(0, "u", "g49", t0));
    EXPECT_TRUE(lasting.contains(0, "u", "g50", t0));
}

TEST(user_group_store, snapshot_for_a_later_instance) {
    user_group_store store;
    store.add(2, "ann", "a", std::nullopt, t0);
    store.add(2, "ann", "b", seconds(10), t0);
    store.add(2, "bob", "c", seconds(1), t0);
    auto entries = store.snapshot(t0 + std::chrono::milliseconds(1500));
    ASSERT_EQ(entries.size(), 2u);  // bob's has expired
    std::sort(entries.begin(), entries.end(),
              [](const auto& x, const auto& y) { return x.group < y.group; });
    EXPECT_EQ(entries[0].hub, 2u);
    EXPECT_EQ(entries[0].user, "ann");
    EXPECT_FALSE(entries[0].ttl.has_value());
    EXPECT_EQ(entries[1].ttl, seconds(9));  // 8.5 s left, rounded up
}

}  // namespace
}  // namespace switchboard::api
