// The specification every presence store passes: queries, once-per-user online/offline
// reports, groups, paging, and, for stores shared by several instances, agreement between
// them and the expiry of an instance that stops. A store test file instantiates it:
// INSTANTIATE_TYPED_TEST_SUITE_P(name, presence_conformance, factory_type).
//
// A factory provides: `static bool available()`, `static constexpr bool shared` (several
// instances on one backend), `void set_up()`, and
// `std::unique_ptr<store> make(boost::asio::io_context& control, store_options options)`.
#pragma once

#include "presence/presence_store.hpp"

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::presence::conformance {

using namespace std::chrono_literals;

// Generous: the suite must hold on a loaded 2-core CI machine.
inline constexpr auto deadline = 10s;

// One instance: a control thread and its store, recording the changes it reports.
class instance {
public:
    template <class Factory>
    instance(Factory& factory, std::string name, std::chrono::milliseconds expiry = 15s)
        : guard_(context_.get_executor()), thread_([this] { context_.run(); }) {
        store_options options;
        options.key_prefix = "test:";
        options.instance = std::move(name);
        options.expiry = expiry;
        options.heartbeat_interval = std::max<std::chrono::milliseconds>(expiry / 5, 20ms);
        store_ = factory.make(context_, std::move(options));
        store_->start([this](const user_change& change) {
            std::lock_guard lock(mutex_);
            changes_.push_back(change);
        });
    }
    ~instance() {
        stop();
        guard_.reset();
        context_.stop();
        thread_.join();
    }
    instance(const instance&) = delete;
    instance& operator=(const instance&) = delete;

    store& presence() { return *store_; }
    // As a crash: the heartbeat stops, nothing is deleted.
    void stop() {
        if (store_) {
            std::promise<void> stopped;
            boost::asio::post(context_, [&] {
                store_->stop();
                stopped.set_value();
            });
            stopped.get_future().wait();
        }
    }

    void add(const std::string& hub, const std::string& connection, const std::string& user) {
        store_->connection_added(hub, connection_entry{connection, user, {}, 1'700'000'000'000});
    }

    std::vector<user_change> changes() {
        std::lock_guard lock(mutex_);
        return changes_;
    }
    // "+alice" / "-alice" per report, in order.
    std::vector<std::string> change_log(const std::string& hub) {
        std::vector<std::string> log;
        for (const auto& change : changes()) {
            if (change.hub == hub) {
                std::string entry(change.online ? "+" : "-");  // (a + b trips GCC 12 -Wrestrict)
                entry += change.user_id;
                log.push_back(std::move(entry));
            }
        }
        return log;
    }

    std::set<std::string> users(const std::string& hub, std::size_t limit = 100) {
        auto all = try_users(hub, limit);
        EXPECT_TRUE(all.has_value());
        return all.value_or(std::set<std::string>{});
    }
    // As users(), but nullopt while the store cannot answer (a backend failing over).
    std::optional<std::set<std::string>> try_users(const std::string& hub,
                                                   std::size_t limit = 100) {
        std::set<std::string> all;
        std::string cursor;
        do {
            std::promise<expected<page<std::string>>> answer;
            store_->online_users(hub, cursor, limit,
                                 [&](expected<page<std::string>> p) { answer.set_value(p); });
            auto page = answer.get_future().get();
            if (!page) {
                return std::nullopt;
            }
            for (auto& user : page->entries) {
                EXPECT_TRUE(all.insert(user).second) << user << " twice";
            }
            cursor = page->next;
        } while (!cursor.empty());
        return all;
    }

    template <class Query>
    std::set<std::string> entries(Query query) {
        std::set<std::string> all;
        std::string cursor;
        do {
            std::promise<expected<page<connection_entry>>> answer;
            query(cursor, [&](expected<page<connection_entry>> p) { answer.set_value(p); });
            auto page = answer.get_future().get();
            EXPECT_TRUE(page.has_value());
            if (!page) {
                break;
            }
            for (auto& entry : page->entries) {
                all.insert(entry.connection_id + "/" + entry.user_id);
                last_entry = entry;
            }
            cursor = page->next;
        } while (!cursor.empty());
        return all;
    }
    std::set<std::string> connections_of(const std::string& hub, const std::string& user) {
        return entries([&](const std::string& cursor, page_callback<connection_entry> done) {
            store_->user_connections(hub, user, cursor, 50, std::move(done));
        });
    }
    std::set<std::string> members_of(const std::string& hub, const std::string& group) {
        return entries([&](const std::string& cursor, page_callback<connection_entry> done) {
            store_->group_members(hub, group, cursor, 50, std::move(done));
        });
    }
    bool online(const std::string& hub, const std::string& user) {
        std::promise<expected<bool>> answer;
        store_->is_online(hub, user, [&](expected<bool> value) { answer.set_value(value); });
        auto value = answer.get_future().get();
        EXPECT_TRUE(value.has_value());
        return value && *value;
    }

    std::optional<std::string> get(const std::string& key) {
        std::promise<expected<std::optional<std::string>>> answer;
        store_->state_get(key,
                          [&](expected<std::optional<std::string>> v) { answer.set_value(v); });
        auto value = answer.get_future().get();
        EXPECT_TRUE(value.has_value());
        return value ? *value : std::nullopt;
    }
    void set(const std::string& key, const std::string& value,
             std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) {
        std::promise<expected<void>> answer;
        store_->state_set(key, value, ttl, [&](expected<void> r) { answer.set_value(r); });
        EXPECT_TRUE(answer.get_future().get().has_value());
    }
    bool erase(const std::string& key) {
        std::promise<expected<bool>> answer;
        store_->state_erase(key, [&](expected<bool> r) { answer.set_value(r); });
        auto result = answer.get_future().get();
        EXPECT_TRUE(result.has_value());
        return result && *result;
    }
    bool compare_and_set(const std::string& key, std::optional<std::string> current,
                         const std::string& value) {
        std::promise<expected<bool>> answer;
        store_->state_compare_and_set(key, std::move(current), value, std::chrono::hours(1),
                                      [&](switchboard::expected<bool> r) { answer.set_value(r); });
        auto result = answer.get_future().get();
        EXPECT_TRUE(result.has_value());
        return result && *result;
    }

    connection_entry last_entry;

private:
    boost::asio::io_context context_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
    std::unique_ptr<store> store_;
    std::mutex mutex_;
    std::vector<user_change> changes_;
};

template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = deadline) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

using strings = std::vector<std::string>;
using string_set = std::set<std::string>;

template <class Factory>
class presence_conformance : public ::testing::Test {
protected:
    void SetUp() override {
        if (!Factory::available()) {
            GTEST_SKIP() << "backend not installed";
        }
        factory_.set_up();
    }
    Factory factory_;
};

TYPED_TEST_SUITE_P(presence_conformance);

TYPED_TEST_P(presence_conformance, answers_who_is_online_and_with_which_connections) {
    instance a(this->factory_, "a-1");
    a.add("chat", "c1", "alice");
    a.add("chat", "c2", "alice");
    a.add("chat", "c3", "bob");
    a.add("chat", "c4", "");  // anonymous: in no user's list
    EXPECT_EQ(a.users("chat"), (string_set{"alice", "bob"}));
    EXPECT_EQ(a.connections_of("chat", "alice"), (string_set{"c1/alice", "c2/alice"}));
    EXPECT_EQ(a.last_entry.instance, "a-1");
    EXPECT_EQ(a.last_entry.connected_at_ms, 1'700'000'000'000U);
    EXPECT_TRUE(a.online("chat", "bob"));
    EXPECT_FALSE(a.online("chat", "carol"));
    EXPECT_TRUE(a.connections_of("chat", "carol").empty());
}

TYPED_TEST_P(presence_conformance, reports_a_user_online_and_offline_once) {
    instance a(this->factory_, "a-1");
    a.add("chat", "c1", "alice");
    a.add("chat", "c2", "alice");
    a.add("chat", "c3", "bob");
    a.presence().connection_removed("chat", "c1", "alice");
    EXPECT_TRUE(a.online("chat", "alice"));
    a.presence().connection_removed("chat", "c2", "alice");
    EXPECT_FALSE(a.online("chat", "alice"));
    ASSERT_TRUE(eventually([&] { return a.change_log("chat").size() == 3; }));
    EXPECT_EQ(a.change_log("chat"), (strings{"+alice", "+bob", "-alice"}));
    EXPECT_EQ(a.users("chat"), string_set{"bob"});
}

TYPED_TEST_P(presence_conformance, tracks_group_members_until_they_leave_or_disconnect) {
    instance a(this->factory_, "a-1");
    a.add("chat", "c1", "alice");
    a.add("chat", "c3", "bob");
    a.add("chat", "c4", "");
    a.presence().group_joined("chat", "c1", "alice", "room");
    a.presence().group_joined("chat", "c3", "bob", "room");
    a.presence().group_joined("chat", "c4", "", "room");
    a.presence().group_joined("chat", "c3", "bob", "other");
    EXPECT_EQ(a.members_of("chat", "room"), (string_set{"c1/alice", "c3/bob", "c4/"}));
    a.presence().group_left("chat", "c1", "room");
    EXPECT_EQ(a.members_of("chat", "room"), (string_set{"c3/bob", "c4/"}));
    a.presence().connection_removed("chat", "c3", "bob");
    a.presence().connection_removed("chat", "c4", "");
    EXPECT_TRUE(a.members_of("chat", "room").empty());
    EXPECT_TRUE(a.members_of("chat", "other").empty());
}

TYPED_TEST_P(presence_conformance, keeps_hubs_apart_whatever_their_names) {
    instance a(this->factory_, "a-1");
    a.add("x:u:y", "c1", "z");
    a.add("x", "c2", "y:u:z");
    EXPECT_EQ(a.users("x:u:y"), string_set{"z"});
    EXPECT_EQ(a.users("x"), string_set{"y:u:z"});
    EXPECT_EQ(a.connections_of("x", "y:u:z"), string_set{"c2/y:u:z"});
    EXPECT_TRUE(a.users("other").empty());
}

TYPED_TEST_P(presence_conformance, pages_through_many_users_each_once) {
    instance a(this->factory_, "a-1");
    string_set expected;
    for (int i = 0; i < 300; ++i) {
        const auto number = std::to_string(i);
        std::string user = "user-";  // (a literal + a string trips GCC 12 -Wrestrict)
        user += number;
        std::string connection = "c";
        connection += number;
        a.add("chat", connection, user);
        expected.insert(user);
    }
    EXPECT_EQ(a.users("chat", 50), expected);
}

TYPED_TEST_P(presence_conformance, instances_agree_and_report_each_user_once) {
    if constexpr (!TypeParam::shared) {
        GTEST_SKIP() << "a store of one instance";
    } else {
        instance a(this->factory_, "a-1");
        instance b(this->factory_, "b-1");
        a.add("chat", "a1", "alice");
        ASSERT_TRUE(eventually([&] { return b.online("chat", "alice"); }));
        b.add("chat", "b1", "alice");
        b.add("chat", "b2", "bob");
        // Writes of one instance reach the others' queries within a round trip.
        ASSERT_TRUE(eventually([&] { return a.users("chat").size() == 2; }));
        for (auto* node : {&a, &b}) {
            EXPECT_EQ(node->users("chat"), (string_set{"alice", "bob"}));
            EXPECT_EQ(node->connections_of("chat", "alice"), (string_set{"a1/alice", "b1/alice"}));
        }
        a.presence().connection_removed("chat", "a1", "alice");
        ASSERT_TRUE(eventually(
            [&] { return b.connections_of("chat", "alice") == string_set{"b1/alice"}; }));
        EXPECT_TRUE(b.online("chat", "alice"));
        b.presence().connection_removed("chat", "b1", "alice");
        ASSERT_TRUE(eventually([&] { return b.change_log("chat").size() == 2; }));
        // alice came online on a (first anywhere) and went offline on b (last anywhere).
        EXPECT_EQ(a.change_log("chat"), strings{"+alice"});
        EXPECT_EQ(b.change_log("chat"), (strings{"+bob", "-alice"}));
    }
}

TYPED_TEST_P(presence_conformance, a_stopped_instance_leaves_within_the_expiry) {
    if constexpr (!TypeParam::shared) {
        GTEST_SKIP() << "a store of one instance";
    } else {
        instance a(this->factory_, "a-1", 500ms);
        auto b = std::make_unique<instance>(this->factory_, "b-1", 500ms);
        a.add("chat", "a1", "alice");
        ASSERT_TRUE(eventually([&] { return b->online("chat", "alice"); }));
        b->add("chat", "b1", "bob");
        b->add("chat", "b2", "alice");
        b->presence().group_joined("chat", "b1", "bob", "room");
        ASSERT_TRUE(eventually([&] { return a.users("chat").size() == 2; }));
        const auto stopped = std::chrono::steady_clock::now();
        b->stop();  // no more heartbeats, nothing deleted
        ASSERT_TRUE(eventually([&] { return a.users("chat") == string_set{"alice"}; }));
        EXPECT_LT(std::chrono::steady_clock::now() - stopped, 3s);
        EXPECT_EQ(a.connections_of("chat", "alice"), string_set{"a1/alice"});
        EXPECT_TRUE(a.members_of("chat", "room").empty());
        // a reaps b's entries and reports bob (who had no other connection) offline, once.
        ASSERT_TRUE(eventually([&] { return a.change_log("chat").size() == 2; }))
            << ::testing::PrintToString(a.change_log("chat"))
            << ::testing::PrintToString(b->change_log("chat"));
        EXPECT_EQ(a.change_log("chat"), (strings{"+alice", "-bob"}));
        b.reset();
        // A new incarnation under the same server name starts empty.
        instance again(this->factory_, "b-2", 500ms);
        EXPECT_EQ(again.users("chat"), string_set{"alice"});
    }
}

TYPED_TEST_P(presence_conformance, keeps_shared_state_with_compare_and_set_and_expiry) {
    instance a(this->factory_, "a-1");
    EXPECT_EQ(a.get("call:1"), std::nullopt);
    EXPECT_TRUE(a.compare_and_set("call:1", std::nullopt, "ringing"));
    EXPECT_FALSE(a.compare_and_set("call:1", std::nullopt, "ringing"));  // taken
    EXPECT_FALSE(a.compare_and_set("call:1", std::string("active"), "ended"));
    EXPECT_TRUE(a.compare_and_set("call:1", std::string("ringing"), "active"));
    EXPECT_EQ(a.get("call:1"), std::optional<std::string>("active"));
    a.set("blob", std::string("a\0b\r\n", 6));
    EXPECT_EQ(a.get("blob"), std::optional<std::string>(std::string("a\0b\r\n", 6)));
    EXPECT_TRUE(a.erase("call:1"));
    EXPECT_FALSE(a.erase("call:1"));
    EXPECT_EQ(a.get("call:1"), std::nullopt);
    a.set("short", "lived", std::chrono::milliseconds(50));
    EXPECT_TRUE(eventually([&] { return !a.get("short").has_value(); }));
    if constexpr (TypeParam::shared) {
        instance b(this->factory_, "b-1");
        a.set("seen", "by b");
        EXPECT_EQ(b.get("seen"), std::optional<std::string>("by b"));
    }
}

REGISTER_TYPED_TEST_SUITE_P(
    presence_conformance, keeps_shared_state_with_compare_and_set_and_expiry,
    answers_who_is_online_and_with_which_connections, reports_a_user_online_and_offline_once,
    tracks_group_members_until_they_leave_or_disconnect, keeps_hubs_apart_whatever_their_names,
    pages_through_many_users_each_once, instances_agree_and_report_each_user_once,
    a_stopped_instance_leaves_within_the_expiry);

}  // namespace switchboard::presence::conformance
