// The client against real `switchboard serve` processes: automatic reconnect across a server
// restart, stateful reconnect across dropped sockets (every message counted), a close with the
// server's error, and the chat hub across two instances sharing Redis.
#include "client/hub_connection.hpp"

#include "../support/switchboard_process.hpp"
#include "client_test_support.hpp"
#ifdef SWITCHBOARD_BACKPLANE_REDIS
#include "../redis/redis_server.hpp"
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace switchboard::client {
namespace {

using namespace std::chrono_literals;
using testing::collector;
using testing::eventually;
using testing::sibling_binary;
using testing::switchboard_process;

std::vector<std::string> serve(std::vector<std::string> extra = {}) {
    std::vector<std::string> arguments{"serve", "--backplane", "memory", "--threads", "1"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return arguments;
}

// Built by appending: GCC 12 warns falsely (-Wrestrict) on numbered(i).
std::string numbered(int i) {
    std::string text = "m";
    text += std::to_string(i);
    return text;
}

std::string chat_url(const std::string& base, const std::string& user) {
    return base + "/hubs/chat?user=" + user;
}

TEST(client_reconnect, reconnects_after_the_server_restarts) {
    switchboard_process server(sibling_binary("switchboard"), serve());
    hub_connection_options options;
    // Quick and many attempts: the restart below takes a moment.
    options.automatic_reconnect =
        reconnect_delays(std::vector<std::chrono::milliseconds>(200, 50ms));
    // Asked again for every attempt: a token that expired during the outage is not reused.
    std::atomic<int> token_calls{0};
    options.access_token_provider = [&token_calls] {
        ++token_calls;
        return std::string();
    };
    hub_connection connection(chat_url(server.url(), "alice"), options);
    collector<std::string> messages;
    collector<std::optional<std::string>> reconnecting;
    collector<std::optional<std::string>> reconnected;
    collector<std::optional<std::string>> closed;
    connection.on("ReceiveMessage",
                  [&](std::string, std::string text) { messages.add(std::move(text)); });
    connection.on_reconnecting(
        [&](std::optional<std::string> e) { reconnecting.add(std::move(e)); });
    connection.on_reconnected(
        [&](std::optional<std::string> id) { reconnected.add(std::move(id)); });
    connection.on_closed([&](std::optional<std::string> e) { closed.add(std::move(e)); });
    connection.start().get();
    const auto first_id = connection.connection_id();
    EXPECT_EQ(token_calls.load(), 1);

    server.kill();
    ASSERT_TRUE(eventually([&] { return reconnecting.size() == 1; }));
    EXPECT_EQ(connection.state(), connection_state::reconnecting);
    EXPECT_THROW(connection.invoke("SendMessage", "lost").get(), hub_error);

    server.restart();
    ASSERT_TRUE(eventually([&] { return reconnected.size() == 1; }));
    EXPECT_EQ(connection.state(), connection_state::connected);
    ASSERT_TRUE(reconnected.at(0));
    EXPECT_NE(reconnected.at(0), first_id);  // a new connection, as the official clients get
    EXPECT_GE(token_calls.load(), 2);
    connection.invoke("SendMessage", "back").get();
    ASSERT_TRUE(eventually([&] { return messages.size() == 1; }));
    EXPECT_EQ(messages.at(0), "back");
    EXPECT_EQ(closed.size(), 0U);
}

TEST(client_reconnect, gives_up_when_the_policy_says_so) {
    auto server = std::make_unique<switchboard_process>(sibling_binary("switchboard"), serve());
    hub_connection_options options;
    options.automatic_reconnect = reconnect_delays({10ms, 10ms});
    hub_connection connection(chat_url(server->url(), "bob"), options);
    collector<std::optional<std::string>> closed;
    connection.on_closed([&](std::optional<std::string> e) { closed.add(std::move(e)); });
    connection.start().get();
    server.reset();
    ASSERT_TRUE(eventually([&] { return closed.size() == 1; }));
    EXPECT_TRUE(closed.at(0));  // why it gave up
    EXPECT_EQ(connection.state(), connection_state::disconnected);
}

TEST(client_reconnect, stateful_reconnect_loses_no_message_over_dropped_sockets) {
    switchboard_process server(sibling_binary("switchboard"), serve());
    testing::tcp_proxy proxy(server.port());
    hub_connection_options options;
    options.transports = transport_type::websockets;
    options.stateful_reconnect = true;
    hub_connection listener(
        chat_url("http://127.0.0.1:" + std::to_string(proxy.port()), "listener"), options);
    collector<std::string> received;
    collector<std::optional<std::string>> trouble;
    listener.on("ReceiveMessage",
                [&](std::string, std::string text) { received.add(std::move(text)); });
    listener.on_reconnecting([&](std::optional<std::string> e) { trouble.add(std::move(e)); });
    listener.on_closed([&](std::optional<std::string> e) { trouble.add(std::move(e)); });
    listener.start().get();
    const auto id = listener.connection_id();

    hub_connection sender(chat_url(server.url(), "sender"));
    sender.start().get();
    constexpr int total = 200;
    for (int i = 0; i < total; ++i) {
        sender.invoke("SendMessage", numbered(i)).get();
        if (i == 50 || i == 120) {
            proxy.cut();
        }
    }
    ASSERT_TRUE(eventually([&] { return received.size() >= total; }))
        << received.size() << " of " << total;
    std::vector<std::string> expected;
    for (int i = 0; i < total; ++i) {
        expected.push_back(numbered(i));
    }
    EXPECT_EQ(received.all(), expected);
    EXPECT_EQ(listener.connection_id(), id);
    EXPECT_EQ(trouble.size(), 0U);

    // The resumed connection still sends, and the server still answers.
    listener.invoke("SendMessage", "after").get();
    ASSERT_TRUE(eventually([&] { return received.size() == total + 1; }));
}

TEST(client_reconnect, a_close_with_an_error_reaches_on_closed) {
    switchboard_process server(sibling_binary("switchboard"),
                               serve({"--max-message-size", "1024"}));
    hub_connection connection(chat_url(server.url(), "carol"));
    collector<std::optional<std::string>> closed;
    connection.on_closed([&](std::optional<std::string> e) { closed.add(std::move(e)); });
    connection.start().get();
    connection.send("SendMessage", std::string(4096, 'x')).get();
    ASSERT_TRUE(eventually([&] { return closed.size() == 1; }));
    ASSERT_TRUE(closed.at(0));
    EXPECT_NE(closed.at(0)->find("Server returned an error on close"), std::string::npos)
        << *closed.at(0);
}

#ifdef SWITCHBOARD_BACKPLANE_REDIS
TEST(client_chat, two_instances_share_messages_groups_and_direct_messages) {
    if (!testing::redis_server::available()) {
        GTEST_SKIP() << "redis-server is not installed";
    }
    testing::redis_server redis;
    ASSERT_TRUE(redis.start());
    const auto bus = "redis://127.0.0.1:" + std::to_string(redis.port());
    const std::vector<std::string> arguments{"serve", "--backplane", bus, "--threads", "1"};
    switchboard_process one(sibling_binary("switchboard"), arguments);
    switchboard_process two(sibling_binary("switchboard"), arguments);

    hub_connection alice(chat_url(one.url(), "alice"));
    hub_connection bob(chat_url(two.url(), "bob"));
    collector<std::string> bob_saw;
    std::atomic<int> probes{0};
    bob.on("ReceiveMessage", [&](std::string user, std::string text) {
        if (text == "probe") {
            ++probes;
        } else {
            bob_saw.add("all " + user + ": " + text);
        }
    });
    bob.on("ReceiveGroupMessage", [&](std::string group, std::string user, std::string text) {
        bob_saw.add("group " + group + " " + user + ": " + text);
    });
    bob.on("ReceiveDirectMessage",
           [&](std::string user, std::string text) { bob_saw.add("dm " + user + ": " + text); });
    alice.start().get();
    bob.start().get();
    // An instance prints its URL before its bus subscriptions are confirmed: probe until a
    // broadcast from one reaches the other.
    bool linked = false;
    for (int attempt = 0; attempt < 50 && !linked; ++attempt) {
        alice.invoke("SendMessage", "probe").get();
        linked = eventually([&] { return probes.load() > 0; }, 200ms);
    }
    ASSERT_TRUE(linked) << "no broadcast crossed the instances";
    bob.invoke("JoinGroup", "room").get();

    alice.invoke("SendMessage", "hi all").get();
    alice.invoke("SendToGroup", "room", "hi room").get();
    alice.invoke("SendToUser", "bob", "hi bob").get();
    ASSERT_TRUE(eventually([&] { return bob_saw.size() == 3; })) << bob_saw.size();
    EXPECT_EQ(bob_saw.all(),
              (std::vector<std::string>{"all alice: hi all", "group room alice: hi room",
                                        "dm alice: hi bob"}));
}
#endif

}  // namespace
}  // namespace switchboard::client
