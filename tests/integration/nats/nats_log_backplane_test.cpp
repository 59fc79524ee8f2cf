// Durable mode's NATS bus on a real nats-server with JetStream: the backplane and durable_log
// conformance suites, and what is NATS's own: catch-up after a server restart, a cap reached
// while an instance was away, a server without JetStream.
#include "../../unit/routing/backplane_conformance.hpp"
#include "../../unit/routing/durable_log_conformance.hpp"
#include "nats_server.hpp"
#include "nats_test_support.hpp"
#include "routing/nats/log_backplane.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::routing::conformance {
namespace {

struct nats_log_factory {
    static bool available() { return testing::nats_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        nats::log_options options;
        options.connection = nats::parse_connection_string(server.url());
        options.server_name = "instance-";
        options.server_name += std::to_string(++made);
        options.window = std::chrono::minutes(1);
        return std::make_unique<nats::log_backplane>(control, std::move(options));
    }
    testing::nats_server server;
    int made = 0;
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats_log, backplane_conformance, nats_log_factory);

}  // namespace
}  // namespace switchboard::routing::conformance

namespace switchboard::routing::log_conformance {
namespace {

// Cut: the server is killed and started again on the same store (the stream survives); a slow
// instance reconnects after 3 s, when the others have published and the test trimmed.
struct nats_log_log_factory {
    using bus_type = nats::log_backplane;
    static constexpr log_capabilities capabilities{};
    static bool available() { return testing::nats_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<bus_type> make(boost::asio::io_context& control,
                                   const instance_options& options) {
        nats::log_options log;
        log.connection = nats::parse_connection_string(server.url());
        log.server_name = options.name;
        log.window = 1min;
        log.max_entries = options.max_entries;
        log.reconnect_wait = options.slow_reconnect ? 3000ms : 100ms;
        log.reconnect_jitter = 10ms;
        log.idle_check = 200ms;  // quick stale checks keep the tests short
        return std::make_unique<bus_type>(control, std::move(log));
    }
    // JetStream's purge keeping the newest `keep` (0: purges all).
    void trim(std::size_t keep) {
        natsConnection* connection = nullptr;
        ASSERT_EQ(natsConnection_ConnectTo(&connection, server.url().c_str()), NATS_OK);
        jsCtx* js = nullptr;
        jsOptions options;
        jsOptions_Init(&options);
        options.Stream.Purge.Keep = keep;
        jsErrCode code{};
        natsStatus status = natsConnection_JetStream(&js, connection, nullptr);
        if (status == NATS_OK) {
            status = js_PurgeStream(js, "switchboard_log", &options, &code);
        }
        jsCtx_Destroy(js);
        natsConnection_Destroy(connection);
        ASSERT_EQ(status, NATS_OK) << natsStatus_GetText(status) << " " << code;
    }
    void cut(bus_type&) { server.kill(); }
    void backend_back() { ASSERT_TRUE(server.start()); }
    void heal(bus_type&) {}
    testing::nats_server server;
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats_log, durable_log_conformance, nats_log_log_factory);

}  // namespace
}  // namespace switchboard::routing::log_conformance

namespace switchboard::testing {
namespace {

struct seen_entry {
    std::string id;
    std::string origin;
    std::string channel;
    std::string payload;
};

// Records what the log hands on; written on the control thread, read by the test.
class recording_observer final : public routing::log_observer {
public:
    void on_log_entry(const routing::log_entry& entry) override {
        std::lock_guard lock(mutex_);
        if (entry.channel == warmup_channel) {
            warmed_up_ = true;  // log_endpoint::wait_ready's, kept out of the counts
            return;
        }
        entries_.push_back({entry.id, entry.origin, entry.channel, *entry.payload});
    }
    void on_log_gap() override { gaps_.fetch_add(1); }

    std::vector<seen_entry> entries() const {
        std::lock_guard lock(mutex_);
        return entries_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }
    int gaps() const { return gaps_.load(); }
    bool warmed_up() const {
        std::lock_guard lock(mutex_);
        return warmed_up_;
    }

    static constexpr const char* warmup_channel = "warmup";

private:
    mutable std::mutex mutex_;
    std::vector<seen_entry> entries_;
    bool warmed_up_ = false;
    std::atomic<int> gaps_{0};
};

// One "server instance": a control io_context on its own thread and a log bus on it.
class log_endpoint {
public:
    log_endpoint(const std::string& url, std::string name, std::size_t max_entries = 0,
                 std::chrono::milliseconds reconnect_wait = 100ms) {
        routing::nats::log_options options;
        options.connection = routing::nats::parse_connection_string(url);
        options.server_name = std::move(name);
        options.window = std::chrono::minutes(1);
        options.max_entries = max_entries;
        options.reconnect_wait = reconnect_wait;
        options.reconnect_jitter = 10ms;
        options.idle_check = 200ms;  // quick stale checks keep the tests short
        bus_ = std::make_unique<routing::nats::log_backplane>(context_, std::move(options));
        bus_->set_observer(&observer_);
        thread_ = std::thread([this] { context_.run(); });
        bus_->start(handler_);
    }
    ~log_endpoint() {
        work_.reset();
        context_.stop();
        thread_.join();
        bus_->stop();
    }

    routing::nats::log_backplane& bus() { return *bus_; }
    recording_handler& handler() { return handler_; }
    recording_observer& observer() { return observer_; }

    // Ready: the reader took its starting point and reads on from it. A marker published
    // before it did is behind that point, so it is published again until one comes back.
    bool wait_ready() {
        if (!eventually([&] { return bus_->connected(); })) {
            return false;
        }
        return eventually([&] {
            if (observer_.warmed_up()) {
                return true;
            }
            publish(recording_observer::warmup_channel, "marker");
            return eventually([&] { return observer_.warmed_up(); }, 300ms);
        });
    }
    void publish(const std::string& channel, const std::string& payload) {
        bus_->publish(channel, make_shared_buffer(payload));
    }
    bool subscribe(const std::string& channel) {
        bus_->subscribe(channel);
        auto done = std::make_shared<std::atomic<bool>>(false);
        bus_->when_subscribed(channel, [done] { *done = true; });
        return eventually([&] { return done->load(); });
    }

private:
    boost::asio::io_context context_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        context_.get_executor()};
    recording_handler handler_;
    recording_observer observer_;
    std::unique_ptr<routing::nats::log_backplane> bus_;
    std::thread thread_;
};

// "<prefix><n>", built by appending (a literal + a string trips GCC 12 -Wrestrict).
std::string numbered(const char* prefix, std::size_t n) {
    std::string out(prefix);
    out += std::to_string(n);
    return out;
}

class nats_log_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nats_server::available()) {
            GTEST_SKIP() << "nats-server not installed";
        }
        ASSERT_TRUE(server_.start());
    }
    nats_server server_;
};

TEST_F(nats_log_test, an_instance_cut_off_catches_up_from_its_position_after_a_restart) {
    // a retries slowly: b is back and publishing while a is still away.
    log_endpoint a(server_.url(), "a", 0, 3000ms);
    log_endpoint b(server_.url(), "b");
    ASSERT_TRUE(a.wait_ready());
    ASSERT_TRUE(b.wait_ready());
    ASSERT_TRUE(a.subscribe("chat"));
    b.publish("chat", "before");
    ASSERT_TRUE(eventually([&] { return a.handler().has("before"); }));

    server_.kill();
    ASSERT_TRUE(eventually([&] { return !a.bus().connected() && !b.bus().connected(); }));
    ASSERT_TRUE(server_.start());  // the same store directory: the stream survives
    ASSERT_TRUE(eventually([&] { return b.bus().connected(); }));
    for (int i = 0; i < 20; ++i) {
        b.publish("chat", numbered("during", i));
    }
    ASSERT_TRUE(eventually([&] { return a.handler().size() == 21; }, 20s));
    const auto got = a.handler().received();
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(got[static_cast<std::size_t>(i) + 1].payload, numbered("during", i));
    }
    EXPECT_EQ(a.observer().gaps(), 0);
    EXPECT_GE(a.bus().reconnects(), 1u);
}

TEST(nats_log_startup, a_server_without_jetstream_stops_durable_mode_at_startup) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    nats_server server;
    server.disable_jetstream();
    ASSERT_TRUE(server.start());
    boost::asio::io_context context;
    routing::nats::log_options options;
    options.connection = routing::nats::parse_connection_string(server.url());
    options.server_name = "a";
    try {
        routing::nats::log_backplane bus(context, std::move(options));
        FAIL() << "built without JetStream";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("JetStream"), std::string::npos);
    }
}

}  // namespace
}  // namespace switchboard::testing
