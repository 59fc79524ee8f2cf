// cluster_client against a local three-master Redis Cluster: sharded pub/sub routed to each
// channel's master, exactly-once delivery, reference counts, a slot moved while subscribed;
// commands routed by key, and the event history's streams on their channels' masters.
#include "redis_cluster.hpp"
#include "redis_test_support.hpp"
#include "routing/redis/client_factory.hpp"
#include "routing/redis/cluster_client.hpp"
#include "routing/redis/redis_history_store.hpp"
#include "routing/redis/stream_history.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using namespace std::chrono_literals;
using testing::received_message;
using testing::redis_cluster;
using testing::redis_server;

class RedisClusterTest : public testing::redis_test {
protected:
    // One cluster for the suite: a fresh Redis Cluster master waits 2 s before it declares
    // the cluster ok (CLUSTER_WRITABLE_DELAY), which would otherwise be paid per test.
    static void SetUpTestSuite() {
        if (redis_server::available()) {
            cluster_ = std::make_unique<redis_cluster>(3);
            formed_ = cluster_->start();
        }
    }
    static void TearDownTestSuite() { cluster_.reset(); }  // stops every process

    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed (scripts/install-deps --test)";
        }
        ASSERT_TRUE(formed_) << "the local cluster did not form";
    }

    static inline std::unique_ptr<redis_cluster> cluster_;
    static inline bool formed_ = false;

    static client_options sharded_options(redis_server& seed) {
        client_options options;
        options.connection.host = "127.0.0.1";
        options.connection.port = seed.port();
        options.connection.sharded = true;
        return options;
    }

    // Subscribers of the channel on the node (sharded channels are per node).
    static long long subscribers(redis_server& node, const std::string& channel) {
        return node.integer_command({}, {"PUBSUB", "SHARDNUMSUB", channel});
    }

    // `per_node` channel names owned by each master.
    static std::vector<std::string> channels_on_every_node(const redis_cluster& cluster,
                                                           std::size_t per_node,
                                                           const std::string& prefix = "chat:") {
        std::vector<std::string> channels;
        std::map<int, std::size_t> counts;
        for (int i = 0; channels.size() < per_node * cluster.size(); ++i) {
            std::string channel = prefix;
            channel += std::to_string(i);
            if (counts[cluster.owner_of(key_slot(channel))]++ < per_node) {
                channels.push_back(channel);
            }
        }
        return channels;
    }
};

TEST_F(RedisClusterTest, ShardedPubSubAcrossThreeMasters) {
    auto& cluster = *cluster_;
    // Through the factory, as the backplane gets it; different seeds for the two clients.
    auto subscriber = make_pubsub_client(context_, sharded_options(cluster.node(0)));
    auto publisher = make_pubsub_client(context_, sharded_options(cluster.node(2)));
    ASSERT_NE(dynamic_cast<cluster_client*>(subscriber.get()), nullptr);
    std::vector<received_message> received;
    std::vector<received_message> received_back;
    subscriber->set_message_handler(collect(received));
    publisher->set_message_handler(collect(received_back));
    std::vector<bool> states;
    subscriber->set_state_handler([&](bool up) { states.push_back(up); });

    const auto channels = channels_on_every_node(cluster, 3);
    for (const auto& channel : channels) {
        subscriber->subscribe(channel);  // before start: placed once the slots are known
    }
    subscriber->subscribe(channels[0]);  // twice
    subscriber->start();
    publisher->start();
    ASSERT_TRUE(run_until([&] { return subscriber->connected() && publisher->connected(); }));
    EXPECT_EQ(states, std::vector<bool>{true});
    EXPECT_EQ(dynamic_cast<cluster_client&>(*subscriber).master_count(), 3u);
    for (const auto& channel : channels) {
        auto& owner = cluster.node(cluster.owner_of(key_slot(channel)));
        ASSERT_TRUE(run_until([&] { return subscribers(owner, channel) == 1; })) << channel;
    }

    for (const auto& channel : channels) {
        ASSERT_TRUE(publisher->publish(channel, make_shared_buffer("to " + channel)));
    }
    ASSERT_TRUE(run_until([&] { return received.size() == channels.size(); }));
    run_for(100ms);  // nothing arrives twice
    ASSERT_EQ(received.size(), channels.size());
    std::map<std::string, int> seen;
    for (const auto& message : received) {
        EXPECT_EQ(message.payload, "to " + message.channel);
        ++seen[message.channel];
    }
    for (const auto& channel : channels) {
        EXPECT_EQ(seen[channel], 1) << channel;
    }
    // Every SPUBLISH reached its slot's master: no -MOVED.
    EXPECT_EQ(publisher->statistics().error_replies, 0u);
    EXPECT_EQ(publisher->statistics().published, channels.size());

    // And the other way round.
    publisher->subscribe(channels.back());
    auto& last_owner = cluster.node(cluster.owner_of(key_slot(channels.back())));
    ASSERT_TRUE(run_until([&] { return subscribers(last_owner, channels.back()) == 2; }));
    subscriber->publish(channels.back(), make_shared_buffer("back"));
    ASSERT_TRUE(run_until([&] { return received_back.size() == 1 && received.size() == 10; }));
    EXPECT_EQ(received_back[0].payload, "back");

    // Reference counts: the first unsubscribe keeps the channel, the second drops it.
    auto& first_owner = cluster.node(cluster.owner_of(key_slot(channels[0])));
    subscriber->unsubscribe(channels[0]);
    publisher->publish(channels[0], make_shared_buffer("still"));
    ASSERT_TRUE(run_until([&] { return received.size() == 11; }));
    EXPECT_EQ(subscribers(first_owner, channels[0]), 1);
    subscriber->unsubscribe(channels[0]);
    ASSERT_TRUE(run_until([&] { return subscribers(first_owner, channels[0]) == 0; }));
    publisher->publish(channels[0], make_shared_buffer("gone"));
    run_for(100ms);
    EXPECT_EQ(received.size(), 11u);

    subscriber->stop();
    publisher->stop();
    EXPECT_FALSE(subscriber->connected());
    EXPECT_FALSE(publisher->connected());
    context_.run_for(20ms);
    EXPECT_EQ(states, std::vector<bool>{true});  // no handler after stop()
}

TEST_F(RedisClusterTest, RoutesCommandsToTheMasterOfTheirKey) {
    auto& cluster = *cluster_;
    cluster_client client(context_, sharded_options(cluster.node(1)));
    // Keys of their own: the slot-move test needs its slot empty.
    const auto keys = channels_on_every_node(cluster, 2, "routed:");
    std::vector<std::string> replies;
    // Before start, so before the slots are known: the commands wait for their masters.
    for (const auto& key : keys) {
        ASSERT_TRUE(client.command(key, {"SET", key, "v:" + key}, [&](const redisReply* reply) {
            replies.emplace_back(reply != nullptr ? std::string(reply->str, reply->len) : "(none)");
        }));
    }
    client.start();
    ASSERT_TRUE(run_until([&] { return replies.size() == keys.size(); }));
    EXPECT_EQ(replies, std::vector<std::string>(keys.size(), "OK"));  // no -MOVED
    for (const auto& key : keys) {
        auto& owner = cluster.node(cluster.owner_of(key_slot(key)));
        EXPECT_EQ(owner.string_command({"GET", key}), "v:" + key);
        owner.string_command({"DEL", key});
    }
    client.stop();
}

TEST_F(RedisClusterTest, KeepsEachChannelsEventHistoryOnItsMaster) {
    auto& cluster = *cluster_;
    auto client = sharded_options(cluster.node(0));
    client.resume_delay = 0ms;
    events::history_store_options options;
    options.key_prefix = "cluster-history:";
    redis_history_store store(context_, std::move(client), std::move(options));
    store.start();
    ASSERT_TRUE(run_until([&] { return store.available(); }));
    for (const auto& channel : channels_on_every_node(cluster, 1, "history:")) {
        std::vector<events::event_id> ids;
        for (int i = 0; i < 2; ++i) {
            store.append(channel, "T", "{}", {}, context_.get_executor(),
                         [&](std::optional<events::event_id> id) {
                             ids.push_back(id.value_or(events::event_id{}));
                         });
        }
        ASSERT_TRUE(run_until([&] { return ids.size() == 2; })) << channel;
        EXPECT_LT(events::event_id{}, ids[0]) << channel;
        EXPECT_LT(ids[0], ids[1]) << channel;
        std::optional<events::history_range> range;
        store.read_after(channel, ids[0], 10, context_.get_executor(),
                         [&](events::history_range got) { range = std::move(got); });
        ASSERT_TRUE(run_until([&] { return range.has_value(); }));
        EXPECT_EQ(range->result, events::history_range::outcome::complete) << channel;
        ASSERT_EQ(range->events.size(), 1u) << channel;
        EXPECT_EQ(range->events[0].id, ids[1]);
        const auto key = stream_history::stream_key("cluster-history:", channel);
        auto& owner = cluster.node(cluster.owner_of(key_slot(key)));
        EXPECT_EQ(owner.integer_command({}, {"XLEN", key}), 2) << channel;
        owner.string_command({"DEL", key});
    }
    store.stop();
}

TEST_F(RedisClusterTest, FollowsAChannelWhoseSlotMoves) {
    auto& cluster = *cluster_;
    cluster_client subscriber(context_, sharded_options(cluster.node(0)));
    cluster_client publisher(context_, sharded_options(cluster.node(1)));
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    std::string channel;
    for (const auto& candidate : channels_on_every_node(cluster, 1)) {
        if (cluster.owner_of(key_slot(candidate)) == 0) {
            channel = candidate;
        }
    }
    const auto slot = key_slot(channel);
    subscriber.subscribe(channel);
    subscriber.start();
    publisher.start();
    ASSERT_TRUE(run_until([&] { return subscriber.connected() && publisher.connected(); }));
    ASSERT_TRUE(run_until([&] { return subscribers(cluster.node(0), channel) == 1; }));
    publisher.publish(channel, make_shared_buffer("before"));
    ASSERT_TRUE(run_until([&] { return received.size() == 1; }));

    const auto subscriber_discoveries = subscriber.discoveries();
    const auto publisher_discoveries = publisher.discoveries();
    ASSERT_TRUE(cluster.move_slot(slot, 0, 1));
    // The old master drops the subscription (sunsubscribe); the client resubscribes, hears
    // -MOVED, rediscovers and subscribes on the new master.
    ASSERT_TRUE(run_until([&] { return subscribers(cluster.node(1), channel) == 1; }));
    EXPECT_GT(subscriber.discoveries(), subscriber_discoveries);
    EXPECT_EQ(subscribers(cluster.node(0), channel), 0);

    // The publisher may still have had a discovery of its own start-up due (they are paced),
    // so it learns either way; the move back below shows the -MOVED path for certain.
    publisher.publish(channel, make_shared_buffer("probe"));
    ASSERT_TRUE(run_until([&] { return publisher.discoveries() > publisher_discoveries; }));
    publisher.publish(channel, make_shared_buffer("after"));
    ASSERT_TRUE(run_until([&] { return !received.empty() && received.back().payload == "after"; }));
    EXPECT_LE(received.size(), 3u);  // before, at most the probe, after
    EXPECT_TRUE(subscriber.connected());
    EXPECT_TRUE(publisher.connected());

    // Back where the suite expects it. Now the publisher is quiet: its stale map sends the
    // probe to the old master, which answers -MOVED (the probe is lost: at most once).
    const auto errors = publisher.statistics().error_replies;
    const auto discoveries = publisher.discoveries();
    ASSERT_TRUE(cluster.move_slot(slot, 1, 0));
    ASSERT_TRUE(run_until([&] { return subscribers(cluster.node(0), channel) == 1; }));
    const auto count = received.size();
    publisher.publish(channel, make_shared_buffer("probe back"));
    ASSERT_TRUE(run_until([&] {
        return publisher.statistics().error_replies > errors &&
               publisher.discoveries() > discoveries;
    }));
    publisher.publish(channel, make_shared_buffer("after back"));
    ASSERT_TRUE(run_until([&] { return received.size() == count + 1; }));
    EXPECT_EQ(received.back().payload, "after back");
}

TEST_F(RedisClusterTest, ShardedModeOnASingleRedis) {
    // Not a cluster: CLUSTER SLOTS is refused and the seed serves every slot.
    redis_server single;
    ASSERT_TRUE(single.start());
    cluster_client subscriber(context_, sharded_options(single));
    cluster_client publisher(context_, sharded_options(single));
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    subscriber.subscribe("solo");
    ASSERT_TRUE(publisher.publish("solo", make_shared_buffer("queued before discovery")));
    EXPECT_GT(publisher.queued_bytes(), 0u);
    subscriber.start();
    ASSERT_TRUE(run_until([&] { return subscriber.connected(); }));
    ASSERT_TRUE(run_until([&] { return subscribers(single, "solo") == 1; }));
    publisher.start();
    ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
    EXPECT_EQ(received[0].payload, "queued before discovery");
    EXPECT_EQ(publisher.master_count(), 1u);
    EXPECT_EQ(publisher.queued_bytes(), 0u);
}

}  // namespace
}  // namespace switchboard::routing::redis
