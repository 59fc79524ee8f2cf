#include "routing/router.hpp"

#include "../support/shard_helpers.hpp"
#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using test::drain;
using test::run_on;
using strings = std::vector<std::string>;

// Records what the router delivered; touched on its shard only, read by the test after a drain.
class fake_recipient final : public recipient {
public:
    void deliver(const message_ptr& message) override {
        targets.push_back(message->target());
        messages.push_back(message);
        // Encoded on the recipient's own shard, as a hub connection does.
        encodings.push_back(message->encoded(wire_protocol::json));
    }
    // Answers a client-result invocation at once with the number of arguments it carried.
    void invoke(const message_ptr& message, std::chrono::milliseconds,
                result_callback on_result) override {
        targets.push_back(message->target());
        on_result(boost::json::value(message->arguments().size()));
    }

    strings targets;
    std::vector<message_ptr> messages;
    std::vector<shared_buffer> encodings;
};

class router_test : public ::testing::Test {
protected:
    router_test() {
        hub_ = router_.add_hub("chat");
        pool_.start();
    }
    // Shard threads stop before the router and the recipients they use are destroyed.
    ~router_test() override { pool_.stop_and_join(); }

    void connect(std::size_t shard, const std::string& id, fake_recipient& target,
                 const std::string& user = {}) {
        ASSERT_TRUE(run_on(pool_, shard, [&] { router_.add_connection(hub_, id, user, target); }));
    }
    void disconnect(std::size_t shard, const std::string& id) {
        ASSERT_TRUE(run_on(pool_, shard, [&] { router_.remove_connection(hub_, id, shard); }));
    }
    void join(std::size_t from_shard, const std::string& id, const std::string& group) {
        ASSERT_TRUE(run_on(pool_, from_shard, [&] { router_.add_to_group(hub_, id, group); }));
        ASSERT_TRUE(drain(pool_));
    }
    void leave(std::size_t from_shard, const std::string& id, const std::string& group) {
        ASSERT_TRUE(run_on(pool_, from_shard, [&] { router_.remove_from_group(hub_, id, group); }));
        ASSERT_TRUE(drain(pool_));
    }
    // Sends from shard 0 and waits until every shard delivered.
    void send(audience to, message_ptr message = make_message("T", {})) {
        ASSERT_TRUE(run_on(pool_, 0, [&] { router_.send(hub_, std::move(to), message); }));
        ASSERT_TRUE(drain(pool_));
    }

    shard_pool pool_{2};
    memory_backplane backplane_{std::make_shared<memory_bus>(), pool_.context(0).get_executor()};
    router router_{pool_, backplane_};
    hub_id hub_ = 0;
    fake_recipient a_, b_, c_;
};

TEST_F(router_test, all_reaches_every_connection_on_every_shard) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    send(audience::all_except());
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_EQ(c_.targets, strings{"T"});
}

TEST_F(router_test, all_except_skips_the_excluded_connections) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    send(audience::all_except({"a", "c"}));
    EXPECT_TRUE(a_.targets.empty());
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_TRUE(c_.targets.empty());
}

TEST_F(router_test, connection_send_reaches_only_that_connection_on_another_shard) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    send(audience::connections({"b"}));
    EXPECT_TRUE(a_.targets.empty());
    EXPECT_EQ(b_.targets, strings{"T"});
}

TEST_F(router_test, connections_send_reaches_each_named_connection) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    send(audience::connections({"a", "c", "unknown"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_TRUE(b_.targets.empty());
    EXPECT_EQ(c_.targets, strings{"T"});
}

TEST_F(router_test, group_send_reaches_members_on_every_shard) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    join(0, "a", "g");
    join(1, "b", "g");
    send(audience::groups({"g"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_TRUE(c_.targets.empty());
}

TEST_F(router_test, groups_send_reaches_a_member_of_two_groups_once) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    join(0, "a", "g1");
    join(0, "a", "g2");
    join(1, "b", "g2");
    join(1, "c", "g1");
    join(1, "c", "g2");
    send(audience::groups({"g1", "g2", "empty"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_EQ(c_.targets, strings{"T"});
}

TEST_F(router_test, group_except_skips_excluded_members) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    join(0, "a", "g");
    join(1, "b", "g");
    join(1, "c", "g");
    send(audience::groups({"g"}, {"b"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_TRUE(b_.targets.empty());
    EXPECT_EQ(c_.targets, strings{"T"});
}

TEST_F(router_test, user_send_reaches_the_users_connections_on_both_shards) {
    connect(0, "a", a_, "alice");
    connect(1, "b", b_, "alice");
    connect(1, "c", c_, "bob");
    send(audience::users({"alice"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_TRUE(c_.targets.empty());
}

TEST_F(router_test, users_send_reaches_each_named_user) {
    connect(0, "a", a_, "alice");
    connect(1, "b", b_, "bob");
    connect(1, "c", c_, "carol");
    send(audience::users({"alice", "bob"}));
    EXPECT_EQ(a_.targets, strings{"T"});
    EXPECT_EQ(b_.targets, strings{"T"});
    EXPECT_TRUE(c_.targets.empty());
}

TEST_F(router_test, removed_connection_receives_nothing) {
    connect(1, "b", b_);
    connect(1, "c", c_);
    disconnect(1, "b");
    send(audience::all_except());
    send(audience::connections({"b"}));
    EXPECT_TRUE(b_.targets.empty());
    EXPECT_EQ(c_.targets, strings{"T"});
    std::size_t count = 0;
    ASSERT_TRUE(run_on(pool_, 1, [&] { count = router_.local_connection_count(hub_, 1); }));
    EXPECT_EQ(count, 1u);
}

TEST_F(router_test, group_membership_changes_for_a_connection_on_another_shard) {
    connect(1, "b", b_);
    join(0, "b", "g");
    send(audience::groups({"g"}, {}), make_message("first", {}));
    leave(0, "b", "g");
    send(audience::groups({"g"}, {}), make_message("second", {}));
    EXPECT_EQ(b_.targets, strings{"first"});
}

TEST_F(router_test, removing_a_connection_removes_it_from_its_groups_and_user) {
    connect(1, "b", b_, "bob");
    join(1, "b", "g");
    disconnect(1, "b");
    send(audience::groups({"g"}));
    send(audience::users({"bob"}));
    EXPECT_TRUE(b_.targets.empty());

    // The same id connecting again (anonymous) starts with no groups and no user.
    connect(1, "b", c_);
    send(audience::groups({"g"}));
    send(audience::users({"bob"}));
    EXPECT_TRUE(c_.targets.empty());
}

TEST_F(router_test, message_is_serialized_once_for_every_recipient) {
    connect(0, "a", a_);
    connect(1, "b", b_);
    connect(1, "c", c_);
    boost::json::array arguments{1, "x"};
    send(audience::all_except(), make_message("T", arguments));

    ASSERT_EQ(a_.encodings.size(), 1u);
    ASSERT_EQ(b_.encodings.size(), 1u);
    ASSERT_EQ(c_.encodings.size(), 1u);
    EXPECT_EQ(a_.messages[0], b_.messages[0]);
    EXPECT_EQ(a_.messages[0], c_.messages[0]);
    EXPECT_EQ(a_.encodings[0].get(), b_.encodings[0].get());
    EXPECT_EQ(a_.encodings[0].get(), c_.encodings[0].get());
    EXPECT_EQ(*a_.encodings[0], "{\"type\":1,\"target\":\"T\",\"arguments\":[1,\"x\"]}\x1e");
}

TEST_F(router_test, invoke_connection_reaches_the_connection_on_another_shard) {
    connect(1, "b", b_);
    std::promise<expected<boost::json::value>> answer;
    ASSERT_TRUE(run_on(pool_, 0, [&] {
        router_.invoke_connection(
            hub_, "b", make_message("Result", {1, 2}), std::chrono::seconds(1),
            [&](expected<boost::json::value> r) { answer.set_value(std::move(r)); });
    }));
    auto future = answer.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const auto result = future.get();
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(*result, boost::json::value(2));
}

TEST_F(router_test, invoke_connection_reports_an_unknown_connection) {
    std::promise<expected<boost::json::value>> answer;
    ASSERT_TRUE(run_on(pool_, 0, [&] {
        router_.invoke_connection(
            hub_, "nobody", make_message("Result", {}), std::chrono::seconds(1),
            [&](expected<boost::json::value> r) { answer.set_value(std::move(r)); });
    }));
    auto future = answer.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    const auto result = future.get();
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error_message(), "Connection 'nobody' does not exist.");
}

// Joins beyond max_groups_per_connection fail with a hub error, wherever the caller runs;
// rejoining a group, leaving one, and other connections are unaffected.
TEST(router_group_limit, a_join_beyond_the_limit_fails_and_the_memberships_stay) {
    shard_pool pool{2};
    memory_backplane backplane{std::make_shared<memory_bus>(), pool.context(0).get_executor()};
    counter rejections;
    router_options options;
    options.max_groups_per_connection = 2;
    options.group_limit_rejections = &rejections;
    router r{pool, backplane, options};
    const auto hub = r.add_hub("chat");
    pool.start();
    fake_recipient a;
    fake_recipient b;
    ASSERT_TRUE(run_on(pool, 1, [&] { r.add_connection(hub, "a", "", a); }));
    ASSERT_TRUE(run_on(pool, 1, [&] { r.add_connection(hub, "b", "", b); }));

    // Returns the error message of a join of "a" made on `from`, or "" when it succeeded.
    const auto join = [&](std::size_t from, const std::string& id, const std::string& group) {
        std::promise<std::string> outcome;
        EXPECT_TRUE(run_on(pool, from, [&] {
            r.add_to_group(hub, id, group, [&outcome](const expected<void>& joined) {
                outcome.set_value(joined ? std::string() : joined.error_message());
            });
        }));
        auto future = outcome.get_future();
        EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
        return future.get();
    };
    const std::string refused = "Group limit reached (2 groups per connection).";
    EXPECT_EQ(join(1, "a", "g1"), "");
    EXPECT_EQ(join(0, "a", "g2"), "");
    EXPECT_EQ(join(1, "a", "g3"), refused);  // on the connection's shard
    EXPECT_EQ(join(0, "a", "g3"), refused);  // posted from another shard
    EXPECT_EQ(join(1, "a", "g1"), "");       // already a member: no new group
    EXPECT_EQ(join(1, "b", "g3"), "");       // the limit is per connection
    EXPECT_EQ(rejections.value(), 2u);

    ASSERT_TRUE(
        run_on(pool, 0, [&] { r.send(hub, audience::groups({"g3"}), make_message("x", {})); }));
    ASSERT_TRUE(drain(pool));
    EXPECT_TRUE(a.targets.empty());
    EXPECT_EQ(b.targets, strings{"x"});

    ASSERT_TRUE(run_on(pool, 1, [&] { r.remove_from_group(hub, "a", "g1"); }));
    ASSERT_TRUE(drain(pool));
    EXPECT_EQ(join(1, "a", "g3"), "");
    pool.stop_and_join();
}

}  // namespace
}  // namespace switchboard::routing

namespace switchboard::routing {
namespace {

// A shared bus whose subscriptions take effect when the test says so.
class gated_bus final : public backplane {
public:
    void start(backplane_handler&) override {}
    void stop() override {}
    void subscribe(const std::string&) override {}
    void unsubscribe(const std::string&) override {}
    void publish(const std::string&, shared_buffer) override {}
    void when_subscribed(const std::string& channel, std::function<void()> then) override {
        std::lock_guard lock(mutex_);
        waiting_.emplace_back(channel, std::move(then));
    }
    [[nodiscard]] bool connected() const override { return true; }
    strings waiting_channels() {
        std::lock_guard lock(mutex_);
        strings channels;
        for (const auto& entry : waiting_) {
            channels.push_back(entry.first);
        }
        return channels;
    }
    // Confirms the subscriptions to `channel` (the callbacks run outside the lock, as a bus's do).
    void confirm(const std::string& channel) {
        std::vector<std::function<void()>> due;
        {
            std::lock_guard lock(mutex_);
            std::erase_if(waiting_, [&](auto& entry) {
                if (entry.first != channel) {
                    return false;
                }
                due.push_back(std::move(entry.second));
                return true;
            });
        }
        for (auto& then : due) {
            then();
        }
    }

private:
    std::mutex mutex_;
    std::vector<std::pair<std::string, std::function<void()>>> waiting_;
};

// A hub connection answers its handshake after this: a send from another instance right after
// the client's start() must reach it (ASP.NET answers before its SUBSCRIBEs complete).
TEST(router_connection_in_effect, waits_for_the_connection_user_and_group_channels) {
    shard_pool pool{2};
    gated_bus bus;
    router router{pool, bus};
    const auto hub = router.add_hub("chat");
    fake_recipient target;
    pool.start();
    std::atomic<bool> in_effect = false;
    std::atomic<bool> on_its_shard = false;
    ASSERT_TRUE(run_on(pool, 1, [&] {
        router.add_connection(hub, "c1", "alice", target);
        router.add_to_group(hub, "c1", "room");
        router.when_connection_in_effect(hub, "c1", [&] {
            on_its_shard = pool.current_shard() == 1;
            in_effect = true;
        });
    }));
    const auto& channels = router.hub_channels(hub);
    // (add_to_group waits on the group's channel as well.)
    const auto waiting = bus.waiting_channels();
    EXPECT_EQ(std::set<std::string>(waiting.begin(), waiting.end()),
              (std::set<std::string>{channels.connection("c1"), channels.user("alice"),
                                     channels.group("room")}));
    bus.confirm(channels.connection("c1"));
    bus.confirm(channels.user("alice"));
    ASSERT_TRUE(drain(pool));
    EXPECT_FALSE(in_effect) << "the group's subscription is not in effect yet";
    bus.confirm(channels.group("room"));
    ASSERT_TRUE(drain(pool));
    EXPECT_TRUE(in_effect);
    EXPECT_TRUE(on_its_shard);
    pool.stop_and_join();
}

class router_visit_test : public router_test {
protected:
    std::size_t count(selection which) {
        std::promise<std::size_t> counted;
        EXPECT_TRUE(run_on(pool_, 0, [&] {
            router_.visit_local(hub_, which, {}, [&](std::size_t n) { counted.set_value(n); });
        }));
        return counted.get_future().get();
    }
};

TEST_F(router_visit_test, selects_local_connections_on_every_shard) {
    connect(0, "a", a_, "u1");
    connect(1, "b", b_, "u1");
    connect(1, "c", c_, "u2");
    join(0, "a", "g");
    join(0, "c", "g");
    using kind = selection::kind;
    EXPECT_EQ(count({kind::all, {}, {}, {}}), 3u);
    EXPECT_EQ(count({kind::all, {}, {}, {"b"}}), 2u);
    EXPECT_EQ(count({kind::user, "u1", {}, {}}), 2u);
    EXPECT_EQ(count({kind::group, "g", {}, {}}), 2u);
    EXPECT_EQ(count({kind::user_in_group, "u1", "g", {}}), 1u);
    EXPECT_EQ(count({kind::connection, "b", {}, {}}), 1u);
    EXPECT_EQ(count({kind::connection, "zz", {}, {}}), 0u);
}

}  // namespace
}  // namespace switchboard::routing
