// The Redis client against a real redis-server: pub/sub, pipelining, reference counts, AUTH,
// and surviving a server restart.
#include "routing/redis/redis_client.hpp"
#include "redis_server.hpp"
#include "redis_test_support.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using namespace std::chrono_literals;
using testing::redis_server;

using testing::received_message;

class RedisClientTest : public testing::redis_test {
protected:
    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed (scripts/install-deps --test)";
        }
    }

    client_options options_for(const redis_server& server, std::string password = {},
                               std::string user = {}) {
        client_options options;
        options.connection.host = "127.0.0.1";
        options.connection.port = server.port();
        options.connection.password = std::move(password);
        options.connection.user = std::move(user);
        return options;
    }
};

TEST_F(RedisClientTest, PublishSubscribeRoundTripBetweenTwoClients) {
    redis_server server;
    ASSERT_TRUE(server.start());
    redis_client subscriber(context_, options_for(server));
    auto publisher_options = options_for(server);
    publisher_options.connection.database = 3;  // SELECT in the handshake; pub/sub ignores it
    redis_client publisher(context_, publisher_options);
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    subscriber.subscribe("chat");  // before start: part of the handshake, confirmed on connect
    subscriber.start();
    publisher.start();
    ASSERT_TRUE(run_until([&] { return subscriber.connected() && publisher.connected(); }));

    ASSERT_TRUE(publisher.publish("chat", make_shared_buffer("hello")));
    ASSERT_TRUE(publisher.publish("other", make_shared_buffer("not subscribed")));
    ASSERT_TRUE(publisher.publish("chat", make_shared_buffer(std::string("bin\0\r\nary", 9))));
    ASSERT_TRUE(run_until([&] { return received.size() == 2; }));
    EXPECT_EQ(received[0].channel, "chat");
    EXPECT_EQ(received[0].payload, "hello");
    EXPECT_EQ(received[1].payload, std::string("bin\0\r\nary", 9));
    EXPECT_EQ(publisher.statistics().published, 3u);
    EXPECT_EQ(subscriber.statistics().received, 2u);
}

TEST_F(RedisClientTest, ManyPipelinedPublishesArriveInOrder) {
    redis_server server;
    ASSERT_TRUE(server.start());
    redis_client subscriber(context_, options_for(server));
    redis_client publisher(context_, options_for(server));
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    subscriber.subscribe("seq");
    subscriber.start();
    publisher.start();
    ASSERT_TRUE(run_until([&] { return subscriber.connected() && publisher.connected(); }));

    constexpr int count = 20000;
    for (int i = 0; i < count; ++i) {
        ASSERT_TRUE(publisher.publish("seq", make_shared_buffer(std::to_string(i))));
    }
    // All but the first wait behind the first write and leave together.
    EXPECT_GT(publisher.queued_bytes(), 0u);
    ASSERT_TRUE(run_until([&] { return received.size() == count; }, 30s));
    for (int i = 0; i < count; ++i) {
        ASSERT_EQ(received[i].payload, std::to_string(i));
    }
    EXPECT_EQ(publisher.statistics().dropped, 0u);
}

TEST_F(RedisClientTest, SubscriptionsAreReferenceCounted) {
    redis_server server;
    ASSERT_TRUE(server.start());
    redis_client client(context_, options_for(server));
    std::vector<received_message> received;
    client.set_message_handler(collect(received));
    client.start();
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    auto subscribers = [&] { return server.integer_command({}, {"PUBSUB", "NUMSUB", "room"}); };

    client.subscribe("room");
    client.subscribe("room");
    ASSERT_TRUE(run_until([&] { return subscribers() == 1; }));

    client.unsubscribe("room");
    client.publish("room", make_shared_buffer("still here"));
    ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
    EXPECT_EQ(subscribers(), 1);

    client.unsubscribe("room");
    ASSERT_TRUE(run_until([&] { return subscribers() == 0; }));
    client.unsubscribe("room");  // unmatched: ignored
    client.publish("room", make_shared_buffer("gone"));
    run_for(200ms);
    EXPECT_EQ(received.size(), 1u);
}

TEST_F(RedisClientTest, AuthenticatesWithPasswordAndAclUser) {
    redis_server server(
        {"--requirepass", "s3cret", "--user", "app", "on", ">apppw", "~*", "&*", "+@all"});
    ASSERT_TRUE(server.start());
    redis_client legacy(context_, options_for(server, "s3cret"));
    redis_client acl(context_, options_for(server, "apppw", "app"));
    redis_client wrong(context_, options_for(server, "nope"));
    std::vector<received_message> received;
    acl.set_message_handler(collect(received));
    acl.subscribe("secure");
    legacy.start();
    acl.start();
    wrong.start();
    ASSERT_TRUE(run_until([&] { return legacy.connected() && acl.connected(); }));

    legacy.publish("secure", make_shared_buffer("authenticated"));
    ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
    EXPECT_EQ(received[0].payload, "authenticated");
    EXPECT_FALSE(wrong.connected());
    // Its refused AUTH may still be on its way: poll for the retry it causes.
    EXPECT_TRUE(run_until([&] { return wrong.statistics().reconnects > 0; }));
    EXPECT_FALSE(wrong.connected());
}

TEST_F(RedisClientTest, ReconnectsResubscribesAndSendsWhatWasBufferedWhileDown) {
    redis_server server;
    ASSERT_TRUE(server.start());
    auto options = options_for(server);
    options.max_queued_bytes = 1024;  // small, to see the bound while down
    redis_client client(context_, options);
    std::vector<received_message> received;
    std::vector<bool> states;
    client.set_message_handler(collect(received));
    client.set_state_handler([&](bool connected) { states.push_back(connected); });
    client.subscribe("events");
    client.subscribe("dropped while down");
    client.start();
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    ASSERT_EQ(states, std::vector<bool>{true});

    server.kill();
    ASSERT_TRUE(run_until([&] { return !client.connected(); }));
    EXPECT_EQ(states, (std::vector<bool>{true, false}));
    client.unsubscribe("dropped while down");
    client.subscribe("added while down");

    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(
            client.publish("events", make_shared_buffer("while down " + std::to_string(i))));
    }
    EXPECT_FALSE(client.publish("events", make_shared_buffer(std::string(2000, 'x'))));
    EXPECT_EQ(client.statistics().dropped, 1u);
    run_for(300ms);  // a few failed attempts against the closed port
    EXPECT_FALSE(client.connected());
    EXPECT_GT(client.queued_bytes(), 0u);

    ASSERT_TRUE(server.start());  // same port
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    ASSERT_TRUE(run_until([&] { return received.size() == 3; }));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(received[i].payload, "while down " + std::to_string(i));
    }
    EXPECT_EQ(client.queued_bytes(), 0u);
    EXPECT_EQ(states, (std::vector<bool>{true, false, true}));

    // And it is a normal connection again.
    client.publish("events", make_shared_buffer("after"));
    ASSERT_TRUE(run_until([&] { return received.size() == 4; }));
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "events"}), 1);
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "added while down"}), 1);
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "dropped while down"}), 0);
}

TEST_F(RedisClientTest, WhatWasBufferedDuringARestartReachesAnotherClientThatReconnects) {
    // Two instances after a Redis restart: the publisher must not flush its buffer before the
    // other has resubscribed, or the messages reach nobody (resume_delay).
    redis_server server;
    ASSERT_TRUE(server.start());
    redis_client publisher(context_, options_for(server));
    redis_client subscriber(context_, options_for(server));
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    subscriber.subscribe("events");
    publisher.start();
    subscriber.start();
    ASSERT_TRUE(run_until([&] { return publisher.connected() && subscriber.connected(); }));

    server.kill();
    ASSERT_TRUE(run_until([&] { return !publisher.connected() && !subscriber.connected(); }));
    ASSERT_TRUE(publisher.publish("events", make_shared_buffer("while down")));
    ASSERT_TRUE(server.start());
    ASSERT_TRUE(run_until([&] { return received.size() == 1; }));
    EXPECT_EQ(received[0].payload, "while down");
}

TEST_F(RedisClientTest, AHealthyRedisPassesTheHealthCheckAndBarriersComplete) {
    redis_server server;
    ASSERT_TRUE(server.start());
    auto options = options_for(server);
    options.health_check_interval = 50ms;
    redis_client client(context_, options);
    std::vector<bool> states;
    client.set_state_handler([&](bool connected) { states.push_back(connected); });
    client.subscribe("events");
    client.start();
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    client.publish("elsewhere", make_shared_buffer("x"));
    run_for(500ms);  // ten health checks
    EXPECT_TRUE(client.connected());
    EXPECT_EQ(states, std::vector<bool>{true});

    client.subscribe("late");
    bool subscribed = false;
    client.when_subscribed("late", [&] { subscribed = true; });
    ASSERT_TRUE(run_until([&] { return subscribed; }));
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "late"}), 1);
}

TEST_F(RedisClientTest, ARedisThatStopsAnsweringIsDroppedAndRejoinedWhenItAnswersAgain) {
    redis_server server;
    ASSERT_TRUE(server.start());
    auto options = options_for(server);
    options.health_check_interval = 100ms;
    redis_client client(context_, options);
    std::vector<bool> states;
    client.set_state_handler([&](bool connected) { states.push_back(connected); });
    client.start();
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    // The socket stays open and accepts bytes, but no command is answered for 3 s.
    const auto paused_at = std::chrono::steady_clock::now();
    server.integer_command({}, {"CLIENT", "PAUSE", "3000", "ALL"});
    ASSERT_TRUE(run_until([&] { return !client.connected(); }, 2500ms))
        << "a Redis that answers nothing still looked connected";
    // Reconnecting needs an answer too: it comes back once, after the pause, without flapping.
    ASSERT_TRUE(run_until([&] { return client.connected(); }));
    EXPECT_GE(std::chrono::steady_clock::now() - paused_at, 2500ms);
    EXPECT_EQ(states, (std::vector<bool>{true, false, true}));
}

TEST_F(RedisClientTest, MessagesDuringResubscriptionAreDelivered) {
    // Many channels: the resubscription confirmations interleave with messages that another
    // client publishes to the first channels as soon as they are confirmed.
    redis_server server;
    ASSERT_TRUE(server.start());
    redis_client subscriber(context_, options_for(server));
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    for (int i = 0; i < 500; ++i) {
        // Appended rather than "c" + ...: GCC 12 reports a false -Wrestrict on the latter.
        std::string channel = "c";
        channel += std::to_string(i);
        subscriber.subscribe(channel);
    }
    subscriber.start();
    redis_client publisher(context_, options_for(server));
    publisher.start();
    ASSERT_TRUE(run_until([&] { return publisher.connected(); }));
    publisher.publish("c0", make_shared_buffer("early"));
    ASSERT_TRUE(run_until([&] { return subscriber.connected(); }));
    publisher.publish("c499", make_shared_buffer("late"));
    ASSERT_TRUE(run_until([&] { return !received.empty() && received.back().payload == "late"; }));
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "c499"}), 1);
}

TEST_F(RedisClientTest, RefusesAnEmptyHost) {
    EXPECT_THROW(redis_client(context_, client_options{}), std::invalid_argument);
}

TEST_F(RedisClientTest, StopsCleanlyWhileConnecting) {
    redis_server server;  // never started: connection refused, retrying
    redis_client client(context_, options_for(server));
    client.start();
    run_for(50ms);
    client.stop();
    EXPECT_FALSE(client.connected());
    context_.run_for(50ms);
}

}  // namespace
}  // namespace switchboard::routing::redis
