#include "transport/connection.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::transport {
namespace {

using send_result = connection::send_result;

class fake_writer final : public connection_writer {
public:
    void on_output_ready() override { ++output_ready; }
    void on_close_requested() override { ++close_requested; }
    void on_abort(std::uint16_t websocket_code, std::string_view reason) override {
        aborts.emplace_back(websocket_code, std::string(reason));
    }
    void on_terminate() override { ++terminated; }

    int output_ready = 0;
    int terminated = 0;
    int close_requested = 0;
    std::vector<std::pair<std::uint16_t, std::string>> aborts;
};

class fake_application final : public connection_application {
public:
    void on_received(std::string_view bytes) override { received.append(bytes); }
    void on_transport_closed() override { ++closed; }

    std::string received;
    int closed = 0;
};

shared_buffer bytes(std::size_t size) {
    return make_shared_buffer(std::string(size, 'x'));
}

class connection_test : public ::testing::Test {
protected:
    // A queue bound of 10 bytes keeps the overflow cases readable.
    std::shared_ptr<connection> make_connection(std::size_t limit = 10) {
        auto c = std::make_shared<connection>("id", "token", 0, transport_kind::websockets, limit,
                                              request_info{});
        c->attach_writer(&writer_);
        return c;
    }

    fake_writer writer_;
};

TEST_F(connection_test, send_notifies_the_writer_only_when_the_queue_was_empty) {
    auto c = make_connection(100);
    EXPECT_EQ(c->send(bytes(1)), send_result::queued);
    EXPECT_EQ(c->send(bytes(1)), send_result::queued);
    EXPECT_EQ(c->send(bytes(1)), send_result::queued);
    EXPECT_EQ(writer_.output_ready, 1);

    std::vector<shared_buffer> out;
    c->take_output(out);
    EXPECT_EQ(c->send(bytes(1)), send_result::queued);
    EXPECT_EQ(writer_.output_ready, 2);
}

TEST_F(connection_test, take_output_moves_every_buffer_in_order) {
    auto c = make_connection(100);
    const std::vector<shared_buffer> sent{make_shared_buffer("a"), make_shared_buffer("bb"),
                                          make_shared_buffer("ccc")};
    for (const auto& buffer : sent) {
        ASSERT_EQ(c->send(buffer), send_result::queued);
    }
    std::vector<shared_buffer> out{make_shared_buffer("already there")};
    EXPECT_EQ(c->take_output(out), 6u);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[1], sent[0]);  // the same buffers, appended: no copies
    EXPECT_EQ(out[2], sent[1]);
    EXPECT_EQ(out[3], sent[2]);
    EXPECT_FALSE(c->has_output());
    EXPECT_EQ(c->take_output(out), 0u);
}

TEST_F(connection_test, taking_output_frees_room_under_the_bound) {
    auto c = make_connection();
    ASSERT_EQ(c->send(bytes(10)), send_result::queued);  // exactly the bound is allowed
    std::vector<shared_buffer> out;
    c->take_output(out);
    EXPECT_EQ(c->send(bytes(10)), send_result::queued);
}

TEST_F(connection_test, exceeding_the_bound_aborts_as_slow_consumer) {
    auto c = make_connection();
    ASSERT_EQ(c->send(bytes(6)), send_result::queued);
    EXPECT_EQ(c->send(bytes(5)), send_result::overflow);

    ASSERT_EQ(writer_.aborts.size(), 1u);
    EXPECT_EQ(writer_.aborts[0].first, 1008);  // policy violation, what clients see
    EXPECT_EQ(writer_.aborts[0].second, "Send queue limit of 10 bytes exceeded (slow consumer).");
    EXPECT_TRUE(c->closing());
    EXPECT_FALSE(c->has_output());

    EXPECT_EQ(c->send(bytes(1)), send_result::closed);
    EXPECT_EQ(writer_.aborts.size(), 1u);
}

TEST_F(connection_test, writer_attached_after_an_abort_is_told_to_abort) {
    auto c = std::make_shared<connection>("id", "token", 0, transport_kind::websockets, 10,
                                          request_info{});
    ASSERT_EQ(c->send(bytes(11)), send_result::overflow);
    c->attach_writer(&writer_);
    ASSERT_EQ(writer_.aborts.size(), 1u);
    EXPECT_EQ(writer_.aborts[0].first, 1008);
}

TEST_F(connection_test, close_after_queues_the_last_message_past_the_bound) {
    auto c = make_connection();
    ASSERT_EQ(c->send(bytes(8)), send_result::queued);
    c->close_after(bytes(8));

    EXPECT_TRUE(writer_.aborts.empty());
    EXPECT_TRUE(c->close_requested());
    EXPECT_EQ(writer_.close_requested, 1);
    EXPECT_EQ(writer_.output_ready, 1);
    EXPECT_EQ(c->send(bytes(1)), send_result::closed);

    std::vector<shared_buffer> out;
    EXPECT_EQ(c->take_output(out), 16u);
    EXPECT_EQ(out.size(), 2u);
}

TEST_F(connection_test, close_after_on_an_idle_connection_wakes_the_writer) {
    auto c = make_connection();
    c->close_after(make_shared_buffer("close"));
    EXPECT_EQ(writer_.output_ready, 1);
    EXPECT_EQ(writer_.close_requested, 1);
    EXPECT_TRUE(c->has_output());
}

TEST_F(connection_test, received_bytes_go_to_the_application) {
    auto c = make_connection();
    auto application = std::make_shared<fake_application>();
    c->set_application(application);
    c->deliver("ab");
    c->deliver("c");
    EXPECT_EQ(application->received, "abc");
}

TEST_F(connection_test, transport_end_tells_the_application_exactly_once) {
    auto c = make_connection();
    auto application = std::make_shared<fake_application>();
    c->set_application(application);
    c->on_transport_ended();
    c->on_transport_ended();
    EXPECT_EQ(application->closed, 1);

    c->deliver("late");  // the application was released: no input follows the end
    EXPECT_TRUE(application->received.empty());
    EXPECT_EQ(c->send(bytes(1)), send_result::closed);
}

TEST_F(connection_test, a_producer_waiting_for_room_hears_once_the_writer_takes_output) {
    auto c = make_connection(100);
    int called = 0;
    c->when_queued_below(50, [&] { ++called; });
    EXPECT_EQ(called, 1) << "room already: at once";

    ASSERT_EQ(c->send(bytes(60)), send_result::queued);
    c->when_queued_below(50, [&] { ++called; });
    c->when_queued_below(50, [&] { called += 10; });  // replaces the first: one waits
    EXPECT_EQ(called, 1);
    ASSERT_EQ(c->send(bytes(30)), send_result::queued);
    EXPECT_EQ(called, 1) << "still no room";
    std::vector<shared_buffer> out;
    c->take_output(out);
    EXPECT_EQ(called, 11);
    c->take_output(out);
    EXPECT_EQ(called, 11) << "heard once";
}

TEST_F(connection_test, a_producer_waiting_for_room_hears_when_the_connection_ends) {
    auto c = make_connection(100);
    auto application = std::make_shared<fake_application>();
    c->set_application(application);
    ASSERT_EQ(c->send(bytes(60)), send_result::queued);
    int called = 0;
    c->when_queued_below(50, [&] { ++called; });
    EXPECT_EQ(called, 0);
    c->abort(connection::slow_consumer_close_code, "gone");
    EXPECT_EQ(called, 1) << "never waits forever";
    c->when_queued_below(50, [&] { ++called; });
    EXPECT_EQ(called, 2) << "past open: at once";
}

TEST(request_info, find_query_ignores_case_and_returns_the_first_value) {
    const request_info info{
        {{"access_token", "t"}, {"Name", "first"}, {"name", "second"}}, {}, {}, {}};
    ASSERT_NE(info.find_query("NAME"), nullptr);
    EXPECT_EQ(*info.find_query("NAME"), "first");
    ASSERT_NE(info.find_query("Access_Token"), nullptr);
    EXPECT_EQ(*info.find_query("Access_Token"), "t");
    EXPECT_EQ(info.find_query("nam"), nullptr);
    EXPECT_EQ(info.find_query("missing"), nullptr);
}

}  // namespace
}  // namespace switchboard::transport
