// The Redis presence store passes the presence conformance suite against a real redis-server
// and a three-master Redis Cluster, as several instances; and survives a Redis restart by
// writing its entries again.
#include "presence/redis/redis_presence_store.hpp"

#include "../../unit/presence/presence_conformance.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"

namespace switchboard::presence::conformance {
namespace {

using testing::redis_server;

// One redis-server for the whole suite: each test's keys are its own (a fresh server per
// test would cost a process start each).
redis_server& shared_server() {
    static redis_server server;
    if (!server.running()) {
        EXPECT_TRUE(server.start());
    }
    return server;
}

routing::redis::client_options client_for(const redis_server& server) {
    routing::redis::client_options client;
    client.connection.host = "127.0.0.1";
    client.connection.port = server.port();
    return client;
}

struct redis_factory {
    static bool available() { return redis_server::available(); }
    static constexpr bool shared = true;
    void set_up() { shared_server().string_command({"FLUSHALL"}); }
    std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
        return std::make_unique<presence::redis::redis_store>(control, client_for(shared_server()),
                                                              std::move(options));
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis, presence_conformance, redis_factory);

// One cluster for the suite: a fresh master waits 2 s before it declares the cluster ok.
testing::redis_cluster& shared_cluster() {
    static testing::redis_cluster cluster(3);
    static const bool formed = cluster.start();
    EXPECT_TRUE(formed);
    return cluster;
}

// Every presence key hashes to one slot (a hash tag): the scripts run on its master, reached
// through seeds that are the other masters.
struct redis_cluster_factory {
    static bool available() { return redis_server::available(); }
    static constexpr bool shared = true;
    void set_up() {
        for (int i = 0; i < shared_cluster().size(); ++i) {
            shared_cluster().node(i).string_command({"FLUSHALL"});
        }
    }
    std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
        routing::redis::client_options client;
        client.connection.host = "127.0.0.1";
        client.connection.port = shared_cluster().node(seed_++ % shared_cluster().size()).port();
        client.connection.sharded = true;
        return std::make_unique<presence::redis::redis_store>(control, std::move(client),
                                                              std::move(options));
    }
    int seed_ = 0;
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis_cluster, presence_conformance, redis_cluster_factory);

// One instance on the shared server, emptied first.
class RedisPresenceStore : public ::testing::Test {
protected:
    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed";
        }
        factory_.set_up();
    }
    redis_factory factory_;
};

TEST_F(RedisPresenceStore, WritesItsEntriesAgainAfterRedisLostThem) {
    instance a(factory_, "a-1", std::chrono::milliseconds(500));
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    ASSERT_TRUE(a.online("chat", "alice"));
    shared_server().string_command({"FLUSHALL"});  // as a restart without persistence
    EXPECT_FALSE(a.online("chat", "alice"));
    ASSERT_TRUE(eventually([&] { return a.online("chat", "alice"); }));
    EXPECT_EQ(a.members_of("chat", "room"), string_set{"c1/alice"});
}

TEST_F(RedisPresenceStore, SettlesWritesLostWithABrokenConnection) {
    instance a(factory_, "a-1", std::chrono::milliseconds(500));
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    a.presence().group_joined("chat", "c1", "alice", "hall");
    ASSERT_TRUE(eventually([&] { return a.members_of("chat", "hall").size() == 1; }));
    // Redis holds the store's scripts unanswered, then its connection breaks with them in
    // flight: whether they ran is unknown to the store.
    auto& server = shared_server();
    server.string_command({"CLIENT", "PAUSE", "10000", "WRITE"});
    a.add("chat", "c2", "bob");
    a.presence().connection_removed("chat", "c1", "alice");
    a.add("chat", "c3", "carol");
    a.presence().group_joined("chat", "c3", "carol", "room");
    a.presence().group_left("chat", "c3", "room");
    server.string_command({"CLIENT", "KILL", "TYPE", "normal"});
    server.string_command({"CLIENT", "UNPAUSE"});
    // The store cannot answer until its connection is back: try_users, not users.
    ASSERT_TRUE(eventually([&] { return a.try_users("chat") == string_set{"bob", "carol"}; }));
    EXPECT_EQ(a.members_of("chat", "room"), string_set{});
    EXPECT_EQ(a.members_of("chat", "hall"), string_set{});
}

}  // namespace
}  // namespace switchboard::presence::conformance
