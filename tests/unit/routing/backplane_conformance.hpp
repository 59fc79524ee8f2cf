// The scale-out specification every backplane passes: two "servers" (a shard pool and a router
// each) on one backplane, with fake connections. A backplane test file instantiates it with a
// factory type: INSTANTIATE_TYPED_TEST_SUITE_P(name, backplane_conformance, factory_type).
//
// A factory provides: `static bool available()` (false skips, e.g. no redis-server installed),
// `void set_up()`, and `std::unique_ptr<backplane> make(boost::asio::io_context& control)`.
#pragma once

#include "../support/shard_helpers.hpp"
#include "protocol/json_protocol.hpp"
#include "routing/backplane.hpp"
#include "routing/router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::routing::conformance {

using namespace std::chrono_literals;

// Generous: the suite must hold on a loaded 2-core CI machine.
inline constexpr auto deadline = 10s;

template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = deadline) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(2ms);  // polling interval, not a wait for an event
    }
    return true;
}

// The invocation target inside a framed JSON hub message ("" if it is not an invocation).
inline std::string target_of(const shared_buffer& framed) {
    if (!framed || framed->empty()) {
        return {};
    }
    auto parsed =
        protocol::parse_json_message(std::string_view(*framed).substr(0, framed->size() - 1));
    if (!parsed) {
        return {};
    }
    const auto* invocation = std::get_if<protocol::invocation_message>(&*parsed);
    return invocation != nullptr ? invocation->target : std::string();
}

// Records deliveries by target; written on its shard, read by the test thread.
class fake_connection final : public recipient {
public:
    void deliver(const message_ptr& message) override {
        const auto target = target_of(message->encoded(wire_protocol::json));
        std::lock_guard lock(mutex_);
        ++received_[target];
    }
    void invoke(const message_ptr& message, std::chrono::milliseconds,
                result_callback on_result) override {
        const auto target = target_of(message->encoded(wire_protocol::json));
        if (target == "Fail") {
            return on_result(make_error("client said no"));
        }
        on_result(boost::json::value("answer to " + target));
    }
    int count(const std::string& target) const {
        std::lock_guard lock(mutex_);
        const auto it = received_.find(target);
        return it == received_.end() ? 0 : it->second;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, int> received_;
};

// Wraps a backplane to count publications per channel.
class counting_backplane final : public backplane {
public:
    explicit counting_backplane(std::unique_ptr<backplane> inner) : inner_(std::move(inner)) {}
    void start(backplane_handler& handler) override { inner_->start(handler); }
    void stop() override { inner_->stop(); }
    void subscribe(const std::string& channel) override { inner_->subscribe(channel); }
    void unsubscribe(const std::string& channel) override { inner_->unsubscribe(channel); }
    void when_subscribed(const std::string& channel, std::function<void()> then) override {
        inner_->when_subscribed(channel, std::move(then));
    }
    void publish(const std::string& channel, shared_buffer payload) override {
        {
            std::lock_guard lock(mutex_);
            ++published_[channel];
        }
        inner_->publish(channel, std::move(payload));
    }
    [[nodiscard]] bool connected() const override { return inner_->connected(); }
    [[nodiscard]] bool shared() const override { return inner_->shared(); }

    int published(const std::string& channel) const {
        std::lock_guard lock(mutex_);
        const auto it = published_.find(channel);
        return it == published_.end() ? 0 : it->second;
    }

private:
    std::unique_ptr<backplane> inner_;
    mutable std::mutex mutex_;
    std::map<std::string, int> published_;
};

// One server: two shards, a router on the backplane, one hub.
struct server_node {
    template <class Factory>
    server_node(Factory& factory, const std::string& name)
        : bus(factory.make(pool.context(router::control_shard))),
          router_(pool, bus, router_options{name, {}, 1s, 1min}),
          hub(router_.add_hub("chat")) {
        pool.start();
        started = test::run_on(pool, router::control_shard, [this] { router_.start(); });
    }
    // Shard threads stop before the router and the connections they use are destroyed.
    ~server_node() {
        pool.stop_and_join();
        router_.stop();
    }

    void connect(std::size_t shard, const std::string& id, fake_connection& target,
                 const std::string& user = {}) {
        ASSERT_TRUE(
            test::run_on(pool, shard, [&] { router_.add_connection(hub, id, user, target); }));
    }
    void disconnect(std::size_t shard, const std::string& id) {
        ASSERT_TRUE(test::run_on(pool, shard, [&] { router_.remove_connection(hub, id, shard); }));
    }
    // Changes a group from shard 0 and waits for the outcome (an ack for another server's).
    expected<void> change_group(const std::string& id, const std::string& group, bool join) {
        auto outcome = std::make_shared<std::optional<expected<void>>>();
        auto ready = std::make_shared<std::atomic<bool>>(false);
        const auto done = [outcome, ready](expected<void> r) {
            *outcome = std::move(r);
            *ready = true;
        };
        EXPECT_TRUE(test::run_on(pool, 0, [&] {
            if (join) {
                router_.add_to_group(hub, id, group, done);
            } else {
                router_.remove_from_group(hub, id, group, done);
            }
        }));
        if (!eventually([&] { return ready->load(); })) {
            return make_error("no outcome before the test deadline");
        }
        return **outcome;
    }
    void send(audience to, const std::string& target) {
        ASSERT_TRUE(test::run_on(
            pool, 0, [&] { router_.send(hub, std::move(to), make_message(target, {})); }));
    }
    expected<boost::json::value> invoke(const std::string& id, const std::string& target,
                                        std::chrono::milliseconds timeout = 5s) {
        auto outcome = std::make_shared<std::optional<expected<boost::json::value>>>();
        auto ready = std::make_shared<std::atomic<bool>>(false);
        EXPECT_TRUE(test::run_on(pool, 0, [&] {
            router_.invoke_connection(hub, id, make_message(target, {}), timeout,
                                      [outcome, ready](expected<boost::json::value> r) {
                                          *outcome = std::move(r);
                                          *ready = true;
                                      });
        }));
        if (!eventually([&] { return ready->load(); })) {
            return make_error("no outcome before the test deadline");
        }
        return **outcome;
    }
    // Waits until the subscriptions this node made so far are in effect on the bus: a fresh
    // connection subscribed after them must receive a send from `from`.
    void settle(server_node& from) {
        ASSERT_TRUE(test::drain(pool) && test::drain(pool));
        const std::string id = "sync-" + std::to_string(++syncs);
        auto probe = std::make_unique<fake_connection>();
        connect(0, id, *probe);
        ASSERT_TRUE(test::drain(pool) && test::drain(pool));
        const bool arrived = eventually([&] {
            from.send(audience::connections({id}), "Sync");
            return eventually([&] { return probe->count("Sync") > 0; }, 100ms);
        });
        ASSERT_TRUE(arrived) << "the backplane never delivered to a new subscription";
        disconnect(0, id);
        probes.push_back(std::move(probe));
    }
    shard_pool pool{2};
    counting_backplane bus;
    router router_;
    hub_id hub;
    bool started = false;
    int syncs = 0;
    std::vector<std::unique_ptr<fake_connection>> probes;
};

template <class Factory>
class backplane_conformance : public ::testing::Test {
protected:
    void SetUp() override {
        if (!Factory::available()) {
            GTEST_SKIP() << "backplane not available on this machine";
        }
        factory_.set_up();
        a_ = std::make_unique<server_node>(factory_, "server-a");
        b_ = std::make_unique<server_node>(factory_, "server-b");
        ASSERT_TRUE(a_->started && b_->started);
        ASSERT_TRUE(eventually([&] { return a_->bus.connected() && b_->bus.connected(); }));
    }
    void TearDown() override {
        a_.reset();
        b_.reset();
    }

    // Both servers' subscriptions are in effect (each hears the other).
    void settle() {
        a_->settle(*b_);
        b_->settle(*a_);
    }
    // `n` copies of `name` at `c`, polled: a marker proves nothing on a sharded bus, where the
    // message under test and the marker may take different shards.
    void expect_count(fake_connection& c, const std::string& name, int n) {
        EXPECT_TRUE(eventually([&] { return c.count(name) >= n; })) << name;
        EXPECT_EQ(c.count(name), n) << name;
    }
    // A marker sent to everyone from `from` after the message under test: once each listed
    // connection has it, the message under test would have arrived too (per-publisher order;
    // on one server, not across a sharded bus's shards: expect_count polls for arrivals).
    void marker(server_node& from, std::initializer_list<fake_connection*> connections) {
        const auto name = "Marker" + std::to_string(++markers_);
        from.send(audience::all_except(), name);
        for (auto* c : connections) {
            ASSERT_TRUE(eventually([&] { return c->count(name) == 1; })) << name;
        }
    }

    Factory factory_;
    std::unique_ptr<server_node> a_, b_;
    fake_connection a1_, a2_, b1_, b2_;
    int markers_ = 0;
};

TYPED_TEST_SUITE_P(backplane_conformance);

TYPED_TEST_P(backplane_conformance, all_reaches_every_connection_of_both_servers_once) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    a.connect(1, "a2", this->a2_);
    b.connect(1, "b1", this->b1_);
    this->settle();
    a.send(audience::all_except(), "Hello");
    this->marker(a, {&this->a1_, &this->a2_, &this->b1_});
    this->expect_count(this->a1_, "Hello", 1);
    this->expect_count(this->a2_, "Hello", 1);
    this->expect_count(this->b1_, "Hello", 1);
}

TYPED_TEST_P(backplane_conformance, all_except_skips_excluded_connections_on_both_servers) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    a.connect(1, "a2", this->a2_);
    b.connect(0, "b1", this->b1_);
    b.connect(1, "b2", this->b2_);
    this->settle();
    b.send(audience::all_except({"a1", "b2"}), "Hello");
    this->marker(b, {&this->a1_, &this->a2_, &this->b1_, &this->b2_});
    EXPECT_EQ(this->a1_.count("Hello"), 0);
    this->expect_count(this->a2_, "Hello", 1);
    this->expect_count(this->b1_, "Hello", 1);
    EXPECT_EQ(this->b2_.count("Hello"), 0);
}

TYPED_TEST_P(backplane_conformance, connection_send_reaches_a_connection_on_the_other_server) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    b.connect(1, "b1", this->b1_);
    b.connect(0, "b2", this->b2_);
    this->settle();
    a.send(audience::connections({"b1"}), "Direct");
    this->marker(a, {&this->a1_, &this->b1_, &this->b2_});
    this->expect_count(this->b1_, "Direct", 1);
    EXPECT_EQ(this->b2_.count("Direct"), 0);
    EXPECT_EQ(this->a1_.count("Direct"), 0);
}

TYPED_TEST_P(backplane_conformance,
             connections_send_reaches_each_once_and_local_ones_skip_the_bus) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(1, "a1", this->a1_);
    a.connect(0, "a2", this->a2_);
    b.connect(1, "b1", this->b1_);
    this->settle();
    a.send(audience::connections({"a1", "b1"}), "Direct");
    this->marker(a, {&this->a1_, &this->a2_, &this->b1_});
    this->expect_count(this->a1_, "Direct", 1);
    this->expect_count(this->b1_, "Direct", 1);
    EXPECT_EQ(this->a2_.count("Direct"), 0);
    EXPECT_EQ(a.bus.published("chat:connection:a1"), 0) << "a local target went through the bus";
    EXPECT_EQ(a.bus.published("chat:connection:b1"), 1);
}

TYPED_TEST_P(backplane_conformance, user_send_reaches_the_users_connections_on_both_servers) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_, "alice");
    a.connect(1, "a2", this->a2_, "bob");
    b.connect(1, "b1", this->b1_, "alice");
    this->settle();
    b.send(audience::users({"alice"}), "Private");
    this->marker(b, {&this->a1_, &this->a2_, &this->b1_});
    this->expect_count(this->a1_, "Private", 1);
    this->expect_count(this->b1_, "Private", 1);
    EXPECT_EQ(this->a2_.count("Private"), 0);
}

TYPED_TEST_P(backplane_conformance, a_user_named_twice_gets_one_copy_on_every_server) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_, "alice");
    b.connect(1, "b1", this->b1_, "alice");
    this->settle();
    a.send(audience::users({"alice", "alice"}), "Private");
    a.send(audience::groups({"", ""}), "Nobody");
    this->marker(a, {&this->a1_, &this->b1_});
    this->expect_count(this->a1_, "Private", 1);
    this->expect_count(this->b1_, "Private", 1);
    EXPECT_EQ(a.bus.published("chat:user:alice"), 1);
    EXPECT_EQ(a.bus.published("chat:group:"), 0);
}

TYPED_TEST_P(backplane_conformance, users_send_reaches_each_named_user) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_, "alice");
    a.connect(1, "a2", this->a2_, "carol");
    b.connect(0, "b1", this->b1_, "bob");
    this->settle();
    a.send(audience::users({"alice", "bob"}), "Private");
    this->marker(a, {&this->a1_, &this->a2_, &this->b1_});
    this->expect_count(this->a1_, "Private", 1);
    this->expect_count(this->b1_, "Private", 1);
    EXPECT_EQ(this->a2_.count("Private"), 0);
}

TYPED_TEST_P(backplane_conformance, group_send_reaches_members_on_both_servers_once) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    a.connect(1, "a2", this->a2_);
    b.connect(1, "b1", this->b1_);
    b.connect(0, "b2", this->b2_);
    ASSERT_TRUE(a.change_group("a1", "room", true));
    ASSERT_TRUE(b.change_group("b1", "room", true));
    this->settle();
    a.send(audience::groups({"room"}), "Chat");
    this->marker(a, {&this->a1_, &this->a2_, &this->b1_, &this->b2_});
    EXPECT_EQ(this->a1_.count("Chat"), 1) << "the sender's own member got the echo as well";
    this->expect_count(this->b1_, "Chat", 1);
    EXPECT_EQ(this->a2_.count("Chat"), 0);
    EXPECT_EQ(this->b2_.count("Chat"), 0);
}

TYPED_TEST_P(backplane_conformance, groups_send_reaches_members_of_each_group) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    b.connect(1, "b1", this->b1_);
    b.connect(0, "b2", this->b2_);
    ASSERT_TRUE(a.change_group("a1", "red", true));
    ASSERT_TRUE(b.change_group("b1", "blue", true));
    ASSERT_TRUE(b.change_group("b2", "green", true));
    this->settle();
    a.send(audience::groups({"red", "blue"}), "Chat");
    this->marker(a, {&this->a1_, &this->b1_, &this->b2_});
    this->expect_count(this->a1_, "Chat", 1);
    this->expect_count(this->b1_, "Chat", 1);
    EXPECT_EQ(this->b2_.count("Chat"), 0);
}

TYPED_TEST_P(backplane_conformance, group_except_skips_excluded_members_on_both_servers) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    b.connect(1, "b1", this->b1_);
    b.connect(0, "b2", this->b2_);
    for (auto* id : {"b1", "b2"}) {
        ASSERT_TRUE(b.change_group(id, "room", true));
    }
    ASSERT_TRUE(a.change_group("a1", "room", true));
    this->settle();
    a.send(audience::groups({"room"}, {"b2"}), "Chat");
    this->marker(a, {&this->a1_, &this->b1_, &this->b2_});
    this->expect_count(this->a1_, "Chat", 1);
    this->expect_count(this->b1_, "Chat", 1);
    EXPECT_EQ(this->b2_.count("Chat"), 0);
}

TYPED_TEST_P(backplane_conformance, group_change_for_a_connection_on_the_other_server) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    b.connect(1, "b1", this->b1_);
    this->settle();
    // Server A adds B's connection: a group command, applied by B, acknowledged to A.
    const auto added = a.change_group("b1", "room", true);
    ASSERT_TRUE(added) << added.error_message();
    b.settle(a);
    a.send(audience::groups({"room"}), "Chat");
    this->marker(a, {&this->a1_, &this->b1_});
    this->expect_count(this->b1_, "Chat", 1);

    const auto removed = a.change_group("b1", "room", false);
    ASSERT_TRUE(removed) << removed.error_message();
    a.send(audience::groups({"room"}), "Chat");
    this->marker(a, {&this->a1_, &this->b1_});
    EXPECT_EQ(this->b1_.count("Chat"), 1) << "still a member after the remote removal";
    EXPECT_EQ(a.bus.published("chat:internal:groups"), 2);
}

TYPED_TEST_P(backplane_conformance,
             group_change_for_an_unknown_connection_fails_after_the_ack_timeout) {
    auto& a = *this->a_;
    const auto outcome = a.change_group("nobody", "room", true);
    ASSERT_FALSE(outcome);
    EXPECT_NE(outcome.error_message().find("nobody"), std::string::npos) << outcome.error_message();
}

TYPED_TEST_P(backplane_conformance, disconnected_connection_receives_nothing) {
    auto &a = *this->a_, &b = *this->b_;
    a.connect(0, "a1", this->a1_);
    b.connect(1, "b1", this->b1_, "bob");
    ASSERT_TRUE(b.change_group("b1", "room", true));
    this->settle();
    b.disconnect(1, "b1");
    a.send(audience::connections({"b1"}), "Gone");
    a.send(audience::users({"bob"}), "Gone");
    a.send(audience::groups({"room"}), "Gone");
    a.send(audience::all_except(), "Gone");
    b.connect(0, "b2", this->b2_);
    this->settle();
    this->marker(a, {&this->a1_, &this->b2_});
    EXPECT_EQ(this->b1_.count("Gone"), 0);
    this->expect_count(this->a1_, "Gone", 1);
}

TYPED_TEST_P(backplane_conformance, sends_to_unknown_targets_are_quietly_dropped) {
    auto &a = *this->a_, &b = *this->b_;
    b.connect(0, "b1", this->b1_);
    this->settle();
    a.send(audience::connections({"nobody"}), "Lost");
    a.send(audience::users({"nobody"}), "Lost");
    a.send(audience::groups({"nothing"}), "Lost");
    a.send(audience::users({""}), "Lost");
    this->marker(a, {&this->b1_});
    EXPECT_EQ(this->b1_.count("Lost"), 0);
}

TYPED_TEST_P(backplane_conformance, client_result_from_a_connection_on_the_other_server) {
    auto &a = *this->a_, &b = *this->b_;
    b.connect(1, "b1", this->b1_);
    this->settle();
    const auto answer = a.invoke("b1", "Question");
    ASSERT_TRUE(answer) << answer.error_message();
    EXPECT_EQ(*answer, boost::json::value("answer to Question"));

    const auto refusal = a.invoke("b1", "Fail");
    ASSERT_FALSE(refusal);
    EXPECT_EQ(refusal.error_message(), "client said no");
}

TYPED_TEST_P(backplane_conformance, client_result_for_an_unknown_connection_times_out) {
    auto& a = *this->a_;
    const auto answer = a.invoke("nobody", "Question", 300ms);
    ASSERT_FALSE(answer);
    EXPECT_NE(answer.error_message().find("Timed out"), std::string::npos)
        << answer.error_message();
}

REGISTER_TYPED_TEST_SUITE_P(
    backplane_conformance, all_reaches_every_connection_of_both_servers_once,
    all_except_skips_excluded_connections_on_both_servers,
    connection_send_reaches_a_connection_on_the_other_server,
    connections_send_reaches_each_once_and_local_ones_skip_the_bus,
    user_send_reaches_the_users_connections_on_both_servers,
    a_user_named_twice_gets_one_copy_on_every_server, users_send_reaches_each_named_user,
    group_send_reaches_members_on_both_servers_once, groups_send_reaches_members_of_each_group,
    group_except_skips_excluded_members_on_both_servers,
    group_change_for_a_connection_on_the_other_server,
    group_change_for_an_unknown_connection_fails_after_the_ack_timeout,
    disconnected_connection_receives_nothing, sends_to_unknown_targets_are_quietly_dropped,
    client_result_from_a_connection_on_the_other_server,
    client_result_for_an_unknown_connection_times_out);

}  // namespace switchboard::routing::conformance
