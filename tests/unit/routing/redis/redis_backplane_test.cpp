// The Redis backplane's own logic over a scripted pub/sub client: reference-counted
// subscriptions and the filter that keeps Redis's echo of our own publications away.
#include "routing/redis/redis_backplane.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using namespace std::chrono_literals;

class scripted_client final : public pubsub_client {
public:
    void set_message_handler(message_handler handler) override { on_message = std::move(handler); }
    void set_state_handler(state_handler handler) override { on_state = std::move(handler); }
    void start() override { started = true; }
    void stop() override { started = false; }
    bool publish(std::string_view channel, shared_buffer payload) override {
        if (full) {
            return false;
        }
        published.emplace_back(channel, *payload);
        return true;
    }
    void subscribe(const std::string& channel) override { ++subscribes[channel]; }
    void unsubscribe(const std::string& channel) override { ++unsubscribes[channel]; }
    void when_subscribed(const std::string&, std::function<void()> then) override { then(); }
    // The backplane sends no commands.
    bool command(std::string_view, const std::vector<std::string>&, reply_handler) override {
        return false;
    }
    [[nodiscard]] bool connected() const noexcept override { return true; }
    [[nodiscard]] client_statistics statistics() const noexcept override { return {}; }
    [[nodiscard]] std::size_t queued_bytes() const noexcept override { return 0; }

    message_handler on_message;
    state_handler on_state;
    bool started = false;
    bool full = false;
    std::vector<std::pair<std::string, std::string>> published;
    std::map<std::string, int> subscribes, unsubscribes;
};

class recorder final : public backplane_handler {
public:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        received.emplace_back(channel, *payload);
    }
    std::vector<std::pair<std::string, std::string>> received;
};

class RedisBackplaneTest : public ::testing::Test {
protected:
    explicit RedisBackplaneTest(std::chrono::milliseconds window = 10s) {
        auto client = std::make_unique<scripted_client>();
        client_ = client.get();
        backplane_ = std::make_unique<redis_backplane>(context_, std::move(client), window);
        backplane_->start(handler_);
        pump();
        client_->on_state(true);
    }
    // Runs what the backplane dispatched to its shard.
    void pump() {
        context_.restart();
        context_.poll();
    }
    // What Redis would push to our subscribe connection.
    void arrive(const std::string& channel, const std::string& payload) {
        client_->on_message(channel, make_shared_buffer(payload));
    }
    void publish(const std::string& channel, const std::string& payload) {
        backplane_->publish(channel, make_shared_buffer(payload));
        pump();
    }

    boost::asio::io_context context_;
    scripted_client* client_ = nullptr;
    std::unique_ptr<redis_backplane> backplane_;
    recorder handler_;
};

TEST_F(RedisBackplaneTest, subscriptions_reach_redis_once_per_channel) {
    backplane_->subscribe("c");
    backplane_->subscribe("c");
    backplane_->unsubscribe("c");
    pump();
    EXPECT_EQ(client_->subscribes["c"], 1);
    EXPECT_EQ(client_->unsubscribes["c"], 0);
    backplane_->unsubscribe("c");
    backplane_->unsubscribe("never");
    pump();
    EXPECT_EQ(client_->unsubscribes["c"], 1);
    EXPECT_EQ(client_->unsubscribes.count("never"), 0u);
}

TEST_F(RedisBackplaneTest, own_publication_echoed_by_redis_is_not_delivered) {
    backplane_->subscribe("all");
    publish("all", "mine");
    arrive("all", "theirs");
    arrive("all", "mine");
    ASSERT_EQ(handler_.received.size(), 1u);
    EXPECT_EQ(handler_.received[0].second, "theirs");
    EXPECT_EQ(backplane_->statistics().echoes_filtered, 1u);
    // The echo is consumed: an identical message later comes from someone else.
    arrive("all", "mine");
    EXPECT_EQ(handler_.received.size(), 2u);
}

TEST_F(RedisBackplaneTest, echoes_are_matched_per_channel_and_in_any_order) {
    backplane_->subscribe("a");
    backplane_->subscribe("b");
    publish("a", "1");
    publish("a", "2");
    publish("b", "1");
    arrive("a", "2");
    arrive("b", "1");
    arrive("a", "1");
    EXPECT_TRUE(handler_.received.empty());
}

TEST_F(RedisBackplaneTest, publication_to_an_unsubscribed_channel_expects_no_echo) {
    publish("elsewhere", "x");
    backplane_->subscribe("elsewhere");
    pump();
    arrive("elsewhere", "x");
    EXPECT_EQ(handler_.received.size(), 1u);
    EXPECT_EQ(client_->published.size(), 1u);
}

TEST_F(RedisBackplaneTest, dropped_publication_expects_no_echo) {
    backplane_->subscribe("all");
    client_->full = true;
    publish("all", "x");
    arrive("all", "x");
    EXPECT_EQ(handler_.received.size(), 1u);
}

class RedisBackplaneZeroWindowTest : public RedisBackplaneTest {
protected:
    RedisBackplaneZeroWindowTest() : RedisBackplaneTest(0ms) {}
};

TEST_F(RedisBackplaneZeroWindowTest, lost_echoes_expire_after_the_window) {
    backplane_->subscribe("all");
    publish("all", "x");
    // A zero window has passed at once: the entry is gone, so this copy is someone else's.
    arrive("all", "x");
    EXPECT_EQ(handler_.received.size(), 1u);
}

TEST_F(RedisBackplaneZeroWindowTest, publications_buffered_while_down_wait_for_their_echo) {
    backplane_->subscribe("all");
    client_->on_state(false);
    publish("all", "x");
    EXPECT_FALSE(backplane_->connected());
    // Redis is down: however long it takes, the echo is still expected.
    arrive("all", "x");
    EXPECT_TRUE(handler_.received.empty());
}

}  // namespace
}  // namespace switchboard::routing::redis
