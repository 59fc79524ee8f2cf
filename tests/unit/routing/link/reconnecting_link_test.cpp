#include "routing/link/reconnecting_link.hpp"

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace switchboard::routing::link {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Records what the link tells its protocol; the handshake is "HELLO\n", answered by any byte.
class recording_owner final : public link_owner {
public:
    void on_transport_up(reconnecting_link& link) override {
        ++ups;
        link.send_handshake("HELLO\n");
    }
    std::size_t on_data(reconnecting_link& link, std::string_view data) override {
        if (!link.ready()) {
            link.set_ready();
        }
        received.append(data);
        return data.size();
    }
    [[nodiscard]] bool may_write(const reconnecting_link&) const override { return writable; }
    void on_write(reconnecting_link&, const outbox& queued) override {
        ++writes;
        written_commands += queued.commands();
    }
    void on_down(reconnecting_link&, bool was_ready) override {
        ++downs;
        ready_downs += was_ready ? 1 : 0;
    }
    void on_health_probe(reconnecting_link&) override { ++probes; }

    int ups = 0;
    int downs = 0;
    int ready_downs = 0;
    int writes = 0;
    int probes = 0;
    std::size_t written_commands = 0;
    bool writable = true;
    std::string received;
};

class reconnecting_link_test : public ::testing::Test {
protected:
    link_options options(std::uint16_t port) {
        link_options settings;
        settings.host = "127.0.0.1";
        settings.port = port;
        settings.log_name = "test";
        settings.role = "only";
        settings.initial_backoff = 1ms;
        settings.max_backoff = 10ms;
        settings.connect_timeout = 2s;
        return settings;
    }

    // Runs the context until `done` or a deadline: no sleeps.
    bool run_until(const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            context_.run_for(5ms);
        }
        return true;
    }

    // Accepts one connection and reads exactly `size` bytes from it.
    void accept_and_read(std::size_t size) {
        bool accepted = false;
        acceptor_.async_accept(server_, [&](boost::system::error_code ec) { accepted = !ec; });
        ASSERT_TRUE(run_until([&] { return accepted; }));
        incoming_.resize(size);
        bool read = false;
        asio::async_read(server_, asio::buffer(incoming_),
                         [&](boost::system::error_code ec, std::size_t) { read = !ec; });
        ASSERT_TRUE(run_until([&] { return read; }));
    }

    asio::io_context context_;
    tcp::acceptor acceptor_{context_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    tcp::socket server_{context_};
    std::string incoming_;
    std::shared_ptr<int> keepalive_ = std::make_shared<int>(0);
    recording_owner owner_;
};

TEST_F(reconnecting_link_test, handshakes_then_writes_everything_queued_in_order) {
    reconnecting_link link(context_, options(acceptor_.local_endpoint().port()), owner_);
    link.queue().append("one;");
    link.queue().end_command();
    link.start(keepalive_);
    accept_and_read(6);
    EXPECT_EQ(incoming_, "HELLO\n");
    EXPECT_FALSE(link.ready());
    asio::write(server_, asio::buffer(std::string("+")));
    ASSERT_TRUE(run_until([&] { return link.ready(); }));
    link.queue().append("two;");
    link.queue().end_command();
    link.flush();
    incoming_.resize(8);
    asio::read(server_, asio::buffer(incoming_));
    EXPECT_EQ(incoming_, "one;two;");
    EXPECT_EQ(owner_.written_commands, 2U);
    link.stop();
}

TEST_F(reconnecting_link_test, held_writes_wait_for_the_owner) {
    owner_.writable = false;
    reconnecting_link link(context_, options(acceptor_.local_endpoint().port()), owner_);
    link.start(keepalive_);
    accept_and_read(6);
    asio::write(server_, asio::buffer(std::string("+")));
    ASSERT_TRUE(run_until([&] { return link.ready(); }));
    link.queue().append("held");
    link.queue().end_command();
    link.flush();
    context_.poll();
    EXPECT_EQ(owner_.writes, 0);
    owner_.writable = true;
    link.flush();
    incoming_.resize(4);
    asio::read(server_, asio::buffer(incoming_));
    EXPECT_EQ(incoming_, "held");
    link.stop();
}

TEST_F(reconnecting_link_test, a_lost_connection_is_reported_once_and_retried) {
    reconnecting_link link(context_, options(acceptor_.local_endpoint().port()), owner_);
    link.start(keepalive_);
    accept_and_read(6);
    asio::write(server_, asio::buffer(std::string("+")));
    ASSERT_TRUE(run_until([&] { return link.ready(); }));
    server_.close();
    ASSERT_TRUE(run_until([&] { return owner_.downs == 1; }));
    EXPECT_EQ(owner_.ready_downs, 1);
    accept_and_read(6);  // the reconnect, with a new handshake
    EXPECT_EQ(owner_.ups, 2);
    EXPECT_EQ(link.reconnects(), 1U);
    link.stop();
    context_.poll();
    EXPECT_EQ(owner_.downs, 1);  // stop() is no failure
}

TEST_F(reconnecting_link_test, a_refused_connection_backs_off_and_retries) {
    const auto port = acceptor_.local_endpoint().port();
    acceptor_.close();  // nothing listens: every attempt is refused
    reconnecting_link link(context_, options(port), owner_);
    link.start(keepalive_);
    ASSERT_TRUE(run_until([&] { return link.reconnects() >= 3; }));
    EXPECT_EQ(owner_.ups, 0);
    EXPECT_EQ(owner_.ready_downs, 0);
    link.stop();
}

TEST_F(reconnecting_link_test, a_silent_server_fails_the_health_check) {
    auto settings = options(acceptor_.local_endpoint().port());
    settings.health_check_interval = 20ms;
    reconnecting_link link(context_, settings, owner_);
    link.start(keepalive_);
    accept_and_read(6);
    asio::write(server_, asio::buffer(std::string("+")));
    ASSERT_TRUE(run_until([&] { return link.ready(); }));
    // Probes go unanswered (nobody calls health_answered): the link gives up after two
    // intervals.
    ASSERT_TRUE(run_until([&] { return owner_.ready_downs == 1; }));
    EXPECT_GE(owner_.probes, 1);
    link.stop();
}

}  // namespace
}  // namespace switchboard::routing::link
