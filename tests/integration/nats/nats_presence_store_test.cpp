// The NATS presence store passes the presence conformance suite against a real nats-server with
// JetStream, as several instances; writes its entries again after the server lost its bucket;
// and keeps presence per instance, with an error, on a server without JetStream.
#include "presence/nats/nats_presence_store.hpp"

#include "../../unit/presence/presence_conformance.hpp"
#include "nats_server.hpp"

#include <nats/nats.h>

namespace switchboard::presence::conformance {
namespace {

using testing::nats_server;

// One nats-server for the whole suite: each test clears the bucket instead (a fresh server per
// test would cost a process start each).
nats_server& shared_server() {
    static nats_server server;
    if (!server.running()) {
        EXPECT_TRUE(server.start());
    }
    return server;
}

constexpr const char* bucket = "switchboard_presence";

// Runs `f(js)` on a connection of its own to `url`.
template <class F>
void with_jetstream(const std::string& url, F f) {
    natsConnection* nc = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, url.c_str()), NATS_OK);
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    f(js);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

presence::nats::nats_store_options options_for(const nats_server& server) {
    presence::nats::nats_store_options options;
    options.connection.servers = {server.url()};
    return options;
}

struct nats_factory {
    static bool available() { return nats_server::available(); }
    static constexpr bool shared = true;
    void set_up() {
        with_jetstream(shared_server().url(), [](jsCtx* js) { js_DeleteKeyValue(js, bucket); });
    }
    std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
        return std::make_unique<presence::nats::nats_store>(control, options_for(shared_server()),
                                                            std::move(options));
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats, presence_conformance, nats_factory);

TEST(NatsPresenceStore, WritesItsEntriesAgainAfterTheServerLostTheBucket) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    nats_factory factory;
    factory.set_up();
    instance a(factory, "a-1", std::chrono::milliseconds(500));
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    ASSERT_TRUE(a.online("chat", "alice"));
    // As a server that restarted without its JetStream files.
    with_jetstream(shared_server().url(),
                   [](jsCtx* js) { ASSERT_EQ(js_DeleteKeyValue(js, bucket), NATS_OK); });
    // Read through another connection: the bucket is back and holds alice again.
    ASSERT_TRUE(eventually([&] {
        bool back = false;
        with_jetstream(shared_server().url(), [&](jsCtx* js) {
            kvStore* kv = nullptr;
            if (js_KeyValue(&kv, js, bucket) == NATS_OK) {
                kvKeysList keys;
                if (kvStore_Keys(&keys, kv, nullptr) == NATS_OK) {
                    for (int i = 0; i < keys.Count; ++i) {
                        back =
                            back || std::string(keys.Keys[i]).find(".u.alice") != std::string::npos;
                    }
                    kvKeysList_Destroy(&keys);
                }
                kvStore_Destroy(kv);
            }
        });
        return back;
    }));
    EXPECT_TRUE(a.online("chat", "alice"));
    EXPECT_EQ(a.members_of("chat", "room"), string_set{"c1/alice"});
    EXPECT_EQ(a.connections_of("chat", "alice"), string_set{"c1/alice"});
}

TEST(NatsPresenceStore, TakesABurstOfConnectsAndDisconnectsInBatches) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    nats_factory factory;
    factory.set_up();
    instance a(factory, "a-1");
    instance b(factory, "b-1");
    // 5,000 at once: ten batches; one by one they took 3.3 s here, batched 0.6 s.
    constexpr int count = 5'000;
    const auto name = [](const char* kind, int i) {
        std::string text = kind;  // (a literal + a string trips GCC 12 -Wrestrict)
        text += std::to_string(i);
        return text;
    };
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        a.add("chat", name("c", i), name("user-", i % (count / 2)));  // two tabs per user
    }
    // a's query follows its writes; b sees them too.
    EXPECT_EQ(a.users("chat", 1'000).size(), static_cast<std::size_t>(count / 2));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_EQ(b.users("chat", 1'000).size(), static_cast<std::size_t>(count / 2));
    ASSERT_TRUE(eventually([&] { return a.change_log("chat").size() == count / 2; }));
    for (int i = 0; i < count; ++i) {
        a.presence().connection_removed("chat", name("c", i), name("user-", i % (count / 2)));
    }
    EXPECT_TRUE(a.users("chat").empty());
    EXPECT_TRUE(b.users("chat").empty());
    ASSERT_TRUE(eventually([&] { return a.change_log("chat").size() == count; }));
    EXPECT_TRUE(b.change_log("chat").empty());
}

// Messages in the bucket's stream (values and delete markers), read on a connection of its own.
std::uint64_t stored_messages() {
    std::uint64_t count = 0;
    with_jetstream(shared_server().url(), [&](jsCtx* js) {
        kvStore* kv = nullptr;
        kvStatus* status = nullptr;
        if (js_KeyValue(&kv, js, bucket) == NATS_OK && kvStore_Status(&status, kv) == NATS_OK) {
            count = kvStatus_Values(status);
        }
        kvStatus_Destroy(status);
        kvStore_Destroy(kv);
    });
    return count;
}

TEST(NatsPresenceStore, PurgesDeleteMarkersAndExpiredStateInItsSweeps) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    struct sweeping_factory : nats_factory {
        std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
            auto nats = options_for(shared_server());
            nats.sweep_interval = std::chrono::milliseconds(100);
            return std::make_unique<presence::nats::nats_store>(control, std::move(nats),
                                                                std::move(options));
        }
    } factory;
    factory.set_up();
    instance a(factory, "a-1", std::chrono::milliseconds(500));
    for (int i = 0; i < 50; ++i) {
        std::string id = "c";  // (a literal + a string trips GCC 12 -Wrestrict)
        id += std::to_string(i);
        a.add("chat", id, i % 2 == 0 ? "alice" : "");
        a.presence().group_joined("chat", id, "", "room");
        a.presence().connection_removed("chat", id, i % 2 == 0 ? "alice" : "");
    }
    a.set("forgotten", "value", std::chrono::milliseconds(50));  // never read again
    a.set("kept", "value");
    EXPECT_TRUE(a.users("chat").empty());
    EXPECT_TRUE(a.members_of("chat", "room").empty());
    // Left: the heartbeat and the kept value; no marker of 50 connections, groups, a user.
    ASSERT_TRUE(eventually([] { return stored_messages() == 2; })) << stored_messages();
    EXPECT_EQ(a.get("kept"), std::optional<std::string>("value"));
}

TEST(NatsPresenceStore, AReplicatedBucketOutlivesANodeOfTheCluster) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    testing::nats_cluster cluster(3);
    ASSERT_TRUE(cluster.start());
    struct cluster_factory {
        testing::nats_cluster* cluster;
        std::size_t next = 0;
        std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
            auto nats = options_for(cluster->node(next++));  // one node each
            nats.replicas = 3;
            // A cluster elects its JetStream leaders first: more than the single server needs.
            nats.request_timeout = std::chrono::seconds(5);
            return std::make_unique<presence::nats::nats_store>(control, std::move(nats),
                                                                std::move(options));
        }
    } factory{&cluster};
    instance a(factory, "a-1");
    instance b(factory, "b-1");
    // Creating the replicated bucket waits for the cluster's first elections, retried every
    // few seconds: on a loaded machine that has taken more than 30 s.
    ASSERT_TRUE(eventually([&] { return a.presence().connected(); }, std::chrono::seconds(90)));
    a.add("chat", "a1", "alice");
    ASSERT_TRUE(eventually([&] { return b.presence().connected() && b.online("chat", "alice"); },
                           std::chrono::seconds(30)));
    cluster.node(2).kill();  // holds no client; may have led the bucket
    b.add("chat", "b1", "bob");
    // Queries may fail while the cluster elects new leaders.
    ASSERT_TRUE(eventually(
        [&] {
            return a.try_users("chat") == string_set{"alice", "bob"};
        },
        std::chrono::seconds(30)));
}

TEST(NatsPresenceStore, KeepsPresencePerInstanceWithoutJetStream) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    nats_server plain;
    plain.disable_jetstream();
    ASSERT_TRUE(plain.start());
    struct plain_factory {
        nats_server* server;
        std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
            return std::make_unique<presence::nats::nats_store>(control, options_for(*server),
                                                                std::move(options));
        }
    } factory{&plain};
    instance a(factory, "a-1");
    instance b(factory, "b-1");
    a.add("chat", "a1", "alice");
    b.add("chat", "b1", "bob");
    // Each answers for its own connections once it knows the server has no JetStream.
    ASSERT_TRUE(eventually([&] { return a.presence().connected(); }));
    ASSERT_TRUE(eventually([&] { return a.users("chat") == string_set{"alice"}; }));
    ASSERT_TRUE(eventually([&] { return b.users("chat") == string_set{"bob"}; }));
    ASSERT_TRUE(eventually([&] { return a.change_log("chat") == strings{"+alice"}; }));
}

}  // namespace
}  // namespace switchboard::presence::conformance
