#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::routing {
namespace {

using strings = std::vector<std::string>;

class recording_handler final : public backplane_handler {
public:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        channels.emplace_back(channel);
        payloads.push_back(*payload);
    }

    strings channels;
    strings payloads;
};

// Runs what is ready on `context`; the restart lets a context that ran out of work run again.
std::size_t pump(boost::asio::io_context& context) {
    context.restart();
    return context.poll();
}

// Two instances sharing one bus, each delivering on its own io_context (its "shard").
class memory_backplane_test : public ::testing::Test {
protected:
    memory_backplane_test() {
        first_.start(first_handler_);
        second_->start(second_handler_);
    }

    void publish(memory_backplane& from, const std::string& channel, std::string bytes) {
        from.publish(channel, make_shared_buffer(std::move(bytes)));
        pump(first_context_);
        pump(second_context_);
    }

    std::shared_ptr<memory_bus> bus_ = std::make_shared<memory_bus>();
    boost::asio::io_context first_context_;
    boost::asio::io_context second_context_;
    recording_handler first_handler_;
    recording_handler second_handler_;
    memory_backplane first_{bus_, first_context_.get_executor()};
    std::unique_ptr<memory_backplane> second_ =
        std::make_unique<memory_backplane>(bus_, second_context_.get_executor());
};

TEST_F(memory_backplane_test, publish_reaches_the_other_instance_but_not_itself) {
    first_.subscribe("c");
    second_->subscribe("c");
    publish(first_, "c", "hello");
    EXPECT_TRUE(first_handler_.payloads.empty());
    EXPECT_EQ(second_handler_.channels, strings{"c"});
    EXPECT_EQ(second_handler_.payloads, strings{"hello"});
}

TEST_F(memory_backplane_test, delivery_runs_on_the_receivers_executor) {
    second_->subscribe("c");
    first_.publish("c", make_shared_buffer("x"));
    EXPECT_TRUE(second_handler_.payloads.empty());
    EXPECT_EQ(pump(first_context_), 0u);
    EXPECT_EQ(pump(second_context_), 1u);
    EXPECT_EQ(second_handler_.payloads, strings{"x"});
}

TEST_F(memory_backplane_test, unsubscribed_channels_are_not_delivered) {
    second_->subscribe("other");
    publish(first_, "c", "hello");
    EXPECT_TRUE(second_handler_.payloads.empty());
}

TEST_F(memory_backplane_test, subscriptions_are_reference_counted) {
    second_->subscribe("c");
    second_->subscribe("c");
    second_->unsubscribe("c");
    publish(first_, "c", "1");
    EXPECT_EQ(second_handler_.payloads, strings{"1"});

    second_->unsubscribe("c");
    publish(first_, "c", "2");
    EXPECT_EQ(second_handler_.payloads, strings{"1"});
}

TEST_F(memory_backplane_test, messages_on_one_channel_arrive_in_publish_order) {
    second_->subscribe("c");
    strings sent;
    for (int i = 0; i < 100; ++i) {
        sent.push_back(std::to_string(i));
        first_.publish("c", make_shared_buffer(sent.back()));
    }
    pump(second_context_);
    EXPECT_EQ(second_handler_.payloads, sent);
}

TEST_F(memory_backplane_test, stopped_instance_drops_queued_deliveries) {
    second_->subscribe("c");
    first_.publish("c", make_shared_buffer("queued"));
    second_->stop();
    pump(second_context_);
    EXPECT_TRUE(second_handler_.payloads.empty());
}

TEST_F(memory_backplane_test, destroyed_instance_receives_nothing_and_the_bus_keeps_working) {
    recording_handler third_handler;
    boost::asio::io_context third_context;
    memory_backplane third{bus_, third_context.get_executor()};
    third.start(third_handler);
    third.subscribe("c");
    second_->subscribe("c");

    first_.publish("c", make_shared_buffer("queued"));  // posted to second_, not yet run
    second_.reset();
    pump(second_context_);
    EXPECT_TRUE(second_handler_.payloads.empty());

    first_.publish("c", make_shared_buffer("after"));
    EXPECT_EQ(pump(second_context_), 0u);
    pump(third_context);
    EXPECT_EQ(third_handler.payloads, (strings{"queued", "after"}));
}

}  // namespace
}  // namespace switchboard::routing
