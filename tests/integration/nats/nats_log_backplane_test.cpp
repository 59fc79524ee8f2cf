// Durable mode's NATS bus on a real nats-server with JetStream: the backplane conformance
// suite, one log order seen by every instance, catch-up and gaps after outages, exact reads,
// and records with compare-and-set.
#include "../../unit/routing/backplane_conformance.hpp"
#include "nats_server.hpp"
#include "nats_test_support.hpp"
#include "routing/nats/log_backplane.hpp"

#include <gtest/gtest.h>
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

    // Runs `f` on the control thread and returns its result.
    template <class F>
    auto on_control(F f) -> decltype(f()) {
        std::promise<decltype(f())> result;
        auto future = result.get_future();
        boost::asio::post(context_, [&] { result.set_value(f()); });
        return future.get();
    }

    std::string position() {
        return on_control([&] { return bus_->position(); });
    }

    expected<std::vector<routing::log_entry>> read_after(const std::string& after,
                                                         std::size_t count) {
        std::promise<expected<std::vector<routing::log_entry>>> result;
        auto future = result.get_future();
        boost::asio::post(context_, [&] {
            bus_->read_after(after, count, [&](auto r) { result.set_value(std::move(r)); });
        });
        return future.get();
    }
    expected<std::optional<std::string>> get(const std::string& key) {
        std::promise<expected<std::optional<std::string>>> result;
        auto future = result.get_future();
        boost::asio::post(context_, [&] {
            bus_->get_record(key, [&](auto r) { result.set_value(std::move(r)); });
        });
        return future.get();
    }
    void put(const std::string& key, const std::string& value, std::chrono::milliseconds ttl) {
        boost::asio::post(context_, [this, key, value, ttl] { bus_->put_record(key, value, ttl); });
    }
    void erase(const std::string& key) {
        boost::asio::post(context_, [this, key] { bus_->erase_record(key); });
    }
    std::future<expected<bool>> swap(const std::string& key, const std::string& from,
                                     const std::string& to) {
        auto result = std::make_shared<std::promise<expected<bool>>>();
        auto future = result->get_future();
        boost::asio::post(context_, [this, result, key, from, to] {
            bus_->compare_and_set_record(key, from, to, std::chrono::minutes(1),
                                         [result](auto r) { result->set_value(std::move(r)); });
        });
        return future;
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

std::vector<std::string> ids_of(const std::vector<seen_entry>& entries) {
    std::vector<std::string> ids;
    for (const auto& e : entries) {
        ids.push_back(e.id);
    }
    return ids;
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

TEST_F(nats_log_test, every_instance_sees_one_order_including_its_own_entries) {
    log_endpoint a(server_.url(), "a");
    log_endpoint b(server_.url(), "b");
    ASSERT_TRUE(a.wait_ready());
    ASSERT_TRUE(b.wait_ready());
    ASSERT_TRUE(a.subscribe("chat"));
    ASSERT_TRUE(b.subscribe("chat"));
    constexpr int per_instance = 50;
    for (int i = 0; i < per_instance; ++i) {
        a.publish("chat", numbered("a", i));
        b.publish("chat", numbered("b", i));
        a.publish("quiet", numbered("q", i));  // nobody subscribed
    }
    ASSERT_TRUE(eventually([&] {
        return a.observer().size() == 3 * per_instance && b.observer().size() == 3 * per_instance;
    }));
    const auto seen_a = a.observer().entries();
    const auto seen_b = b.observer().entries();
    EXPECT_EQ(ids_of(seen_a), ids_of(seen_b));
    for (std::size_t i = 0; i < seen_a.size(); ++i) {
        EXPECT_EQ(seen_a[i].payload, seen_b[i].payload);
        EXPECT_EQ(seen_a[i].origin, seen_b[i].origin);
        if (i > 0) {
            EXPECT_LT(routing::compare_log_ids(seen_a[i - 1].id, seen_a[i].id), 0);
        }
    }
    // Each instance's own publications in publish order.
    int next_a = 0;
    for (const auto& e : seen_a) {
        if (e.origin == "a" && e.channel == "chat") {
            EXPECT_EQ(e.payload, numbered("a", next_a++));
        }
    }
    EXPECT_EQ(next_a, per_instance);
    // The handler: only the other instance's entries, only on subscribed channels.
    ASSERT_TRUE(eventually([&] { return a.handler().size() == per_instance; }));
    for (const auto& d : a.handler().received()) {
        EXPECT_EQ(d.channel, "chat");
        EXPECT_EQ(d.payload.front(), 'b');
    }
    EXPECT_EQ(b.handler().size(), static_cast<std::size_t>(per_instance));
    EXPECT_EQ(a.position(), seen_a.back().id);
    EXPECT_EQ(a.observer().gaps(), 0);
    EXPECT_TRUE(eventually([&] { return a.bus().unconfirmed_publications() == 0; }));
    EXPECT_EQ(a.bus().dropped_publications(), 0u);
}

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

TEST_F(nats_log_test, entries_trimmed_past_the_position_are_a_gap) {
    // The stream keeps 5 entries; a is away while b publishes 20.
    log_endpoint a(server_.url(), "a", 5, 3000ms);
    log_endpoint b(server_.url(), "b", 5);
    ASSERT_TRUE(a.wait_ready());
    ASSERT_TRUE(b.wait_ready());
    ASSERT_TRUE(a.subscribe("chat"));
    b.publish("chat", "before");
    ASSERT_TRUE(eventually([&] { return a.handler().has("before"); }));

    server_.kill();
    ASSERT_TRUE(eventually([&] { return !a.bus().connected(); }));
    ASSERT_TRUE(server_.start());
    ASSERT_TRUE(eventually([&] { return b.bus().connected(); }));
    for (int i = 0; i < 20; ++i) {
        b.publish("chat", numbered("during", i));
    }
    ASSERT_TRUE(eventually([&] { return a.observer().gaps() == 1; }, 20s));
    // Reading goes on from the log's end: what b publishes next reaches a.
    b.publish("chat", "after");
    ASSERT_TRUE(eventually([&] { return a.handler().has("after"); }));
    EXPECT_FALSE(a.handler().has("during0"));
}

TEST_F(nats_log_test, channel_names_and_payloads_of_any_bytes_pass_unchanged) {
    log_endpoint a(server_.url(), "a");
    log_endpoint b(server_.url(), "b");
    ASSERT_TRUE(a.wait_ready());
    ASSERT_TRUE(b.wait_ready());
    const std::string channel("hub:grp\0. *>\r\n\xc3\xbc:7", 18);
    const std::string payload(
        "\0\x01"
        "binary\r\n\x1e\xff",
        12);
    ASSERT_TRUE(b.subscribe(channel));
    a.publish(channel, payload);
    ASSERT_TRUE(eventually([&] { return b.handler().size() == 1; }));
    EXPECT_EQ(b.handler().received()[0].channel, channel);
    EXPECT_EQ(b.handler().received()[0].payload, payload);
    const auto own = a.observer().entries();
    ASSERT_EQ(own.size(), 1u);
    EXPECT_EQ(own[0].channel, channel);
    EXPECT_EQ(own[0].payload, payload);
    EXPECT_EQ(own[0].origin, "a");
}

TEST_F(nats_log_test, read_after_returns_exactly_the_entries_after_an_id) {
    log_endpoint a(server_.url(), "a", 8);
    ASSERT_TRUE(a.wait_ready());
    for (int i = 0; i < 6; ++i) {
        a.publish("chat", numbered("m", i));
    }
    ASSERT_TRUE(eventually([&] { return a.observer().size() == 6; }));
    const auto ids = ids_of(a.observer().entries());

    auto some = a.read_after(ids[1], 3);
    ASSERT_TRUE(some.has_value());
    ASSERT_EQ(some->size(), 3u);
    EXPECT_EQ((*some)[0].id, ids[2]);
    EXPECT_EQ(*(*some)[0].payload, "m2");
    EXPECT_EQ((*some)[2].id, ids[4]);
    EXPECT_EQ((*some)[2].origin, "a");
    EXPECT_EQ((*some)[2].channel, "chat");

    auto rest = a.read_after(ids[5], 10);
    ASSERT_TRUE(rest.has_value());
    EXPECT_TRUE(rest->empty());

    auto all = a.read_after("0-0", 100);
    ASSERT_TRUE(all.has_value());
    std::erase_if(*all, [](const auto& e) { return e.channel != "chat"; });  // warm-up markers
    ASSERT_EQ(all->size(), 6u);
    EXPECT_EQ(all->front().id, ids[0]);

    // Past the cap of 8: the first entries are trimmed, and reading after them is refused.
    for (int i = 6; i < 12; ++i) {
        a.publish("chat", numbered("m", i));
    }
    ASSERT_TRUE(eventually([&] { return a.observer().size() == 12; }));
    EXPECT_FALSE(a.read_after(ids[0], 10).has_value());
    auto kept = a.read_after("0-0", 100);
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(kept->size(), 8u);
    // m4 is the oldest kept: reading after m3 is still exact, after m2 it is not.
    const auto later = ids_of(a.observer().entries());
    auto tail = a.read_after(later[3], 100);
    ASSERT_TRUE(tail.has_value());
    ASSERT_EQ(tail->size(), 8u);
    EXPECT_EQ(*tail->front().payload, "m4");
    EXPECT_FALSE(a.read_after(later[2], 100).has_value());
}

TEST_F(nats_log_test, records_put_get_compare_and_set_erase_and_expire) {
    log_endpoint a(server_.url(), "a");
    log_endpoint b(server_.url(), "b");
    ASSERT_TRUE(a.wait_ready());
    ASSERT_TRUE(b.wait_ready());

    auto absent = a.get("session");
    ASSERT_TRUE(absent.has_value());
    EXPECT_FALSE(absent->has_value());
    // An absent record matches no expected value.
    EXPECT_FALSE(a.swap("session", "", "x").get().value());

    a.put("session", "v1", std::chrono::minutes(1));
    ASSERT_TRUE(eventually([&] {
        auto read = b.get("session");
        return read && *read == std::optional<std::string>("v1");
    }));

    // Two instances race to claim it from v1: one wins.
    auto from_a = a.swap("session", "v1", "claimed-by-a");
    auto from_b = b.swap("session", "v1", "claimed-by-b");
    const auto won_a = from_a.get();
    const auto won_b = from_b.get();
    ASSERT_TRUE(won_a.has_value());
    ASSERT_TRUE(won_b.has_value());
    EXPECT_NE(*won_a, *won_b);
    const auto winner = *won_a ? std::string("claimed-by-a") : std::string("claimed-by-b");
    EXPECT_EQ(a.get("session").value(), std::optional<std::string>(winner));
    // A stale expectation loses.
    EXPECT_FALSE(a.swap("session", "v1", "late").get().value());

    a.erase("session");
    ASSERT_TRUE(eventually([&] {
        auto read = a.get("session");
        return read && !read->has_value();
    }));

    a.put("short", "lived", 300ms);
    ASSERT_TRUE(eventually([&] {
        auto read = a.get("short");
        return read && read->has_value();
    }));
    EXPECT_TRUE(eventually([&] {
        auto read = b.get("short");
        return read && !read->has_value();
    }));
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
