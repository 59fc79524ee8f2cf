#include "hub/chat_hub.hpp"

#include "../support/shard_helpers.hpp"
#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::hub {
namespace {

using test::run_on;
using status = invocation_outcome::status;

// A connected client as the router sees it: records the invocations it was sent.
class fake_client final : public routing::recipient {
public:
    void deliver(const routing::message_ptr& message) override {
        received.push_back({message->target(), message->arguments()});
    }
    void invoke(const routing::message_ptr&, std::chrono::milliseconds,
                routing::result_callback on_result) override {
        on_result(make_error("no client results in this test"));
    }

    struct invocation {
        std::string target;
        boost::json::array arguments;
        bool operator==(const invocation&) const = default;
    };
    std::vector<invocation> received;
};

// Runs the chat hub on one started shard; every call runs on that shard, as in the server.
class chat_hub_test : public ::testing::Test {
protected:
    chat_hub_test() {
        hub_id_ = router_.add_hub("chat");
        pool_.start();
    }
    ~chat_hub_test() override { pool_.stop_and_join(); }

    void connect(const std::string& id, fake_client& client, const std::string& user = {}) {
        ASSERT_TRUE(run_on(pool_, 0, [&] { router_.add_connection(hub_id_, id, user, client); }));
    }

    // Invokes `method` as connection `caller` (anonymous unless `user` is given).
    invocation_outcome invoke(const std::string& caller, const std::string& method,
                              boost::json::array arguments, const std::string& user = {}) {
        invocation_outcome outcome;
        const bool ran = run_on(pool_, 0, [&] {
            const auto* entry = hub_->find_method(method);
            ASSERT_NE(entry, nullptr) << method;
            transport::connection connection(caller, "token", 0,
                                             transport::transport_kind::websockets, 1024, request_);
            hub_context context(router_, hub_id_, caller, user, connection);
            invocation_resources resources;
            if (entry->signature.deferred) {
                // No connection behind it: the reply's answer goes nowhere.
                resources.reply = std::make_shared<detail::reply_state>();
            }
            outcome = entry->invoke(context, arguments, resources);
        });
        EXPECT_TRUE(ran) << method << " did not complete";
        // Deferred work (a join's notification) runs on the shard after the method returned.
        EXPECT_TRUE(test::drain(pool_));
        return outcome;
    }

    shard_pool pool_{1};
    routing::memory_backplane backplane_{std::make_shared<routing::memory_bus>(),
                                         pool_.context(0).get_executor()};
    routing::router router_{pool_, backplane_};
    routing::hub_id hub_id_ = 0;
    transport::request_info request_;
    std::shared_ptr<hub_definition> hub_ =
        make_chat_hub({.max_message_length = 10, .groups = {}, .presence_events = true});
    fake_client a_, b_, c_;
};

using invocation = fake_client::invocation;

TEST_F(chat_hub_test, send_message_reaches_everyone_with_the_senders_name) {
    connect("a", a_, "alice");
    connect("b", b_);
    const auto outcome = invoke("a", "SendMessage", {"hi"}, "alice");
    EXPECT_EQ(outcome.result_status, status::ok);
    const std::vector<invocation> expected{{"ReceiveMessage", {"alice", "hi"}}};
    EXPECT_EQ(a_.received, expected);
    EXPECT_EQ(b_.received, expected);
}

TEST_F(chat_hub_test, anonymous_sender_is_named_by_connection_id) {
    connect("a", a_);
    invoke("a", "SendMessage", {"hi"});
    EXPECT_EQ(a_.received, (std::vector<invocation>{{"ReceiveMessage", {"a", "hi"}}}));
}

TEST_F(chat_hub_test, over_long_message_is_refused) {
    connect("a", a_);
    const auto outcome = invoke("a", "SendMessage", {"12345678901"});
    EXPECT_EQ(outcome.result_status, status::hub_error);
    EXPECT_NE(outcome.failure.message.find("exceeds"), std::string::npos)
        << outcome.failure.message;
    EXPECT_TRUE(a_.received.empty());
    EXPECT_EQ(invoke("a", "SendMessage", {"1234567890"}).result_status, status::ok);
}

TEST_F(chat_hub_test, empty_group_name_is_refused) {
    connect("a", a_);
    const auto outcome = invoke("a", "JoinGroup", {""});
    EXPECT_EQ(outcome.result_status, status::hub_error);
    EXPECT_EQ(outcome.failure.message, "Group name must not be empty.");
    EXPECT_TRUE(a_.received.empty());
}

TEST_F(chat_hub_test, group_messages_reach_members_only) {
    connect("a", a_);
    connect("b", b_);
    connect("c", c_);
    // JoinGroup answers once the membership is in effect on the bus (a deferred reply).
    ASSERT_EQ(invoke("a", "JoinGroup", {"room"}).result_status, status::pending);
    ASSERT_EQ(invoke("b", "JoinGroup", {"room"}).result_status, status::pending);
    a_.received.clear();
    b_.received.clear();

    ASSERT_EQ(invoke("c", "SendToGroup", {"room", "yo"}).result_status, status::ok);
    const std::vector<invocation> expected{{"ReceiveGroupMessage", {"room", "c", "yo"}}};
    EXPECT_EQ(a_.received, expected);
    EXPECT_EQ(b_.received, expected);
    EXPECT_TRUE(c_.received.empty());
}

TEST_F(chat_hub_test, leaving_a_group_stops_its_messages) {
    connect("a", a_);
    invoke("a", "JoinGroup", {"room"});
    invoke("a", "LeaveGroup", {"room"});
    a_.received.clear();
    invoke("a", "SendToGroup", {"room", "yo"});
    EXPECT_TRUE(a_.received.empty());
}

TEST_F(chat_hub_test, direct_message_reaches_the_user_and_the_senders_connections) {
    connect("a1", a_, "alice");
    connect("a2", b_, "alice");
    connect("b", c_, "bob");
    ASSERT_EQ(invoke("b", "SendToUser", {"alice", "psst"}, "bob").result_status, status::ok);
    const std::vector<invocation> expected{{"ReceiveDirectMessage", {"bob", "psst"}}};
    EXPECT_EQ(a_.received, expected);
    EXPECT_EQ(b_.received, expected);
    EXPECT_EQ(c_.received, expected);
}

TEST_F(chat_hub_test, without_presence_events_joins_and_leaves_are_silent) {
    hub_ = make_chat_hub({.max_message_length = 10, .groups = {}, .presence_events = false});
    EXPECT_FALSE(hub_->find_method("SendMessage") == nullptr);
    connect("a", a_);
    connect("b", b_);
    ASSERT_EQ(invoke("a", "JoinGroup", {"room"}).result_status, status::pending);
    ASSERT_EQ(invoke("b", "JoinGroup", {"room"}).result_status, status::pending);
    ASSERT_EQ(invoke("b", "LeaveGroup", {"room"}).result_status, status::ok);
    EXPECT_TRUE(a_.received.empty());
    EXPECT_TRUE(b_.received.empty());
    // Messages still flow.
    ASSERT_EQ(invoke("b", "SendToGroup", {"room", "hi"}).result_status, status::ok);
    EXPECT_EQ(a_.received, (std::vector<invocation>{{"ReceiveGroupMessage", {"room", "b", "hi"}}}));
}

// With a group policy: the caller's verified identity decides which groups it may use.
class chat_group_policy_test : public chat_hub_test {
protected:
    void use_policy(std::string_view mode, std::vector<std::string> patterns) {
        auto policy = make_chat_group_policy(mode, std::move(patterns));
        ASSERT_TRUE(policy) << policy.error_message();
        hub_ = make_chat_hub(
            {.max_message_length = 10, .groups = std::move(*policy), .presence_events = true});
    }
    void sign_in(const std::string& user, std::vector<std::string> roles = {}) {
        request_.identity = switchboard::identity{user, std::move(roles), {}, {}};
    }
    status join(const std::string& group, const std::string& user) {
        return invoke("a", "JoinGroup", {group}, user).result_status;
    }
};

TEST_F(chat_group_policy_test, patterns_allow_matching_names_only) {
    use_policy("patterns", {"team-*", "lobby"});
    connect("a", a_);
    EXPECT_EQ(join("team-red", ""), status::pending);
    EXPECT_EQ(join("lobby", ""), status::pending);
    const auto refused = invoke("a", "JoinGroup", {"lobby2"});
    EXPECT_EQ(refused.result_status, status::hub_error);
    EXPECT_EQ(refused.failure.message, "Not allowed to join group 'lobby2'.");
}

TEST_F(chat_group_policy_test, user_placeholder_gives_each_user_their_own_groups) {
    use_policy("patterns", {"dm-{user}-*"});
    connect("a", a_, "alice");
    EXPECT_EQ(join("dm-alice-bob", "alice"), status::pending);
    EXPECT_EQ(join("dm-bob-alice", "alice"), status::hub_error);
    // Anonymous callers match no {user} pattern, not even "dm--x".
    EXPECT_EQ(join("dm--x", ""), status::hub_error);
}

TEST_F(chat_group_policy_test, sending_to_a_group_needs_the_same_right_as_joining) {
    use_policy("patterns", {"team-*"});
    connect("a", a_);
    const auto refused = invoke("a", "SendToGroup", {"ops", "hi"});
    EXPECT_EQ(refused.result_status, status::hub_error);
    EXPECT_EQ(refused.failure.message, "Not allowed to send to group 'ops'.");
    EXPECT_EQ(invoke("a", "SendToGroup", {"team-a", "hi"}).result_status, status::ok);
}

TEST_F(chat_group_policy_test, roles_name_the_groups_a_user_may_join) {
    use_policy("roles", {});
    connect("a", a_, "alice");
    EXPECT_EQ(join("ops", "alice"), status::hub_error);  // no identity at all
    sign_in("alice", {"admin", "group:team-*"});
    EXPECT_EQ(join("team-blue", "alice"), status::pending);
    EXPECT_EQ(join("ops", "alice"), status::hub_error);
    sign_in("alice", {"group:*"});
    EXPECT_EQ(join("ops", "alice"), status::pending);
}

TEST_F(chat_group_policy_test, leaving_is_always_allowed) {
    use_policy("patterns", {"team-*"});
    connect("a", a_);
    EXPECT_EQ(invoke("a", "LeaveGroup", {"ops"}).result_status, status::ok);
}

TEST(chat_group_policy, configuration_mistakes_are_reported) {
    EXPECT_FALSE(make_chat_group_policy("closed", {}));
    EXPECT_EQ(make_chat_group_policy("patterns", {}).error_message(),
              "the patterns group policy needs at least one group pattern");
    EXPECT_FALSE(make_chat_group_policy("open", {"x"}));
    EXPECT_TRUE(make_chat_group_policy("roles", {}));
}

}  // namespace
}  // namespace switchboard::hub
