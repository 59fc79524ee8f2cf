#include "transport/long_polling.hpp"
#include "http/stream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

namespace switchboard::transport {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

// A poll request: records the response it gets.
class fake_poll final : public http::exchange {
public:
    void respond(http::response res) override { responses.push_back(std::move(res)); }
    http::stream take_stream() override { std::abort(); }
    void add_cors_headers(bhttp::fields&) override {}
    [[nodiscard]] unsigned version() const override { return 11; }
    [[nodiscard]] bool keep_alive() const override { return true; }
    [[nodiscard]] std::size_t shard() const override { return 0; }
    [[nodiscard]] const std::string& remote_address() const override { return address_; }

    std::vector<http::response> responses;

private:
    std::string address_ = "127.0.0.1";
};

class recording_application final : public connection_application {
public:
    void on_received(std::string_view) override {}
    void on_transport_closed() override { ++closed; }
    int closed = 0;
};

// The shard is driven by the test thread: run() processes what the transport posted.
class long_polling_test : public ::testing::Test {
protected:
    long_polling_test() {
        connection_->set_application(application_);
        transport_ = std::make_shared<long_polling_transport>(
            pool_, connection_, long_polling_options{poll_timeout_, disconnect_timeout_});
        connection_->own_writer(transport_);
    }
    // The connection owns its transport and the transport its connection until the connection
    // ends (as every long-polling connection does, at the latest by disconnect timeout).
    ~long_polling_test() override {
        transport_->terminate();
        pool_.context(0).restart();
        pool_.context(0).poll();
    }

    void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 2s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        auto& context = pool_.context(0);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            context.restart();
            context.run_for(5ms);
        }
    }

    std::chrono::milliseconds poll_timeout_ = 200ms;
    std::chrono::milliseconds disconnect_timeout_ = 5s;
    shard_pool pool_{1};
    std::shared_ptr<recording_application> application_ = std::make_shared<recording_application>();
    connection_ptr connection_ = std::make_shared<connection>(
        "id", "token", 0, transport_kind::long_polling, 1 << 20, request_info{});
    std::shared_ptr<long_polling_transport> transport_;
};

TEST_F(long_polling_test, the_first_poll_is_answered_at_once_and_empty) {
    auto first = std::make_shared<fake_poll>();
    transport_->start(first);
    run_until([&] { return !first->responses.empty(); });
    ASSERT_EQ(first->responses.size(), 1u);
    EXPECT_EQ(first->responses[0].result(), bhttp::status::ok);
    EXPECT_EQ(first->responses[0].body(), "");
    EXPECT_EQ(first->responses[0][bhttp::field::cache_control], "no-cache, no-store");
}

TEST_F(long_polling_test, a_held_poll_gets_everything_queued_in_one_response) {
    auto poll = std::make_shared<fake_poll>();
    transport_->poll(poll);
    EXPECT_TRUE(poll->responses.empty());
    connection_->send(make_shared_buffer("{\"type\":1}\x1e"));
    connection_->send(make_shared_buffer("{\"type\":6}\x1e"));
    run_until([&] { return !poll->responses.empty(); });
    ASSERT_EQ(poll->responses.size(), 1u);
    EXPECT_EQ(poll->responses[0].result(), bhttp::status::ok);
    EXPECT_EQ(poll->responses[0].body(), "{\"type\":1}\x1e");
    EXPECT_EQ(poll->responses[0][bhttp::field::content_type], "application/octet-stream");

    auto next = std::make_shared<fake_poll>();
    transport_->poll(next);  // the second message was queued meanwhile: answered at once
    run_until([&] { return !next->responses.empty(); });
    ASSERT_EQ(next->responses.size(), 1u);
    EXPECT_EQ(next->responses[0].body(), "{\"type\":6}\x1e");
}

TEST_F(long_polling_test, a_newer_poll_completes_the_older_one_with_204) {
    auto older = std::make_shared<fake_poll>();
    auto newer = std::make_shared<fake_poll>();
    transport_->poll(older);
    transport_->poll(newer);
    run_until([&] { return !older->responses.empty(); });
    ASSERT_EQ(older->responses.size(), 1u);
    EXPECT_EQ(older->responses[0].result(), bhttp::status::no_content);
    EXPECT_TRUE(newer->responses.empty());
}

TEST_F(long_polling_test, a_poll_times_out_with_an_empty_200) {
    auto poll = std::make_shared<fake_poll>();
    transport_->poll(poll);
    run_until([&] { return !poll->responses.empty(); });
    ASSERT_EQ(poll->responses.size(), 1u);
    EXPECT_EQ(poll->responses[0].result(), bhttp::status::ok);
    EXPECT_EQ(poll->responses[0].body(), "");
    EXPECT_EQ(application_->closed, 0);
}

TEST_F(long_polling_test, delete_ends_the_connection_and_the_held_poll_with_204) {
    auto poll = std::make_shared<fake_poll>();
    transport_->poll(poll);
    transport_->terminate();
    run_until([&] { return !poll->responses.empty(); });
    ASSERT_EQ(poll->responses.size(), 1u);
    EXPECT_EQ(poll->responses[0].result(), bhttp::status::no_content);
    EXPECT_EQ(application_->closed, 1);
}

TEST_F(long_polling_test, an_application_close_is_flushed_then_answered_with_204) {
    connection_->close_after(make_shared_buffer("{\"type\":7}\x1e"));
    auto poll = std::make_shared<fake_poll>();
    transport_->poll(poll);
    run_until([&] { return !poll->responses.empty(); });
    EXPECT_EQ(poll->responses.at(0).body(), "{\"type\":7}\x1e");
    auto last = std::make_shared<fake_poll>();
    transport_->poll(last);
    run_until([&] { return !last->responses.empty(); });
    EXPECT_EQ(last->responses.at(0).result(), bhttp::status::no_content);
    EXPECT_EQ(application_->closed, 1);
}

TEST(long_polling, a_client_that_stops_polling_is_disconnected) {
    shard_pool pool{1};
    auto application = std::make_shared<recording_application>();
    auto conn = std::make_shared<connection>("id", "token", 0, transport_kind::long_polling, 1024,
                                             request_info{});
    conn->set_application(application);
    auto transport =
        std::make_shared<long_polling_transport>(pool, conn, long_polling_options{1s, 50ms});
    conn->own_writer(transport);
    transport->start(std::make_shared<fake_poll>());
    transport.reset();
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (application->closed == 0 && std::chrono::steady_clock::now() < deadline) {
        pool.context(0).restart();
        pool.context(0).run_for(5ms);
    }
    EXPECT_EQ(application->closed, 1);
}

}  // namespace
}  // namespace switchboard::transport
