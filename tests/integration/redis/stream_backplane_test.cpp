// Durable mode's bus on a real redis-server: the backplane and durable_log conformance suites,
// and what is Redis's own: publications made before start, a restart without persistence, and
// how durable mode picks this bus.
#include "../../unit/routing/backplane_conformance.hpp"
#include "../../unit/routing/durable_log_conformance.hpp"

#include "redis_server.hpp"
#include "redis_test_support.hpp"
#include "routing/backplane_factory.hpp"
#include "routing/redis/redis_registration.hpp"
#include "routing/redis/stream_backplane.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using namespace std::chrono_literals;
using testing::redis_server;

// Forwards 127.0.0.1:port() to a target; close() cuts every connection and refuses new ones
// (accepted, then closed at once) until open(): an instance partitioned from Redis while the
// others are not. swallow() drops the bytes of one direction from then on (commands that never
// reach Redis, or replies that never come back), as a link that dies mid-flight does.
// Runs on a thread of its own.
class pausable_proxy {
public:
    explicit pausable_proxy(std::uint16_t target_port)
        : target_(boost::asio::ip::make_address("127.0.0.1"), target_port),
          acceptor_(context_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        do_accept();
        thread_ = std::thread([this] { context_.run(); });
    }
    ~pausable_proxy() {
        context_.stop();
        thread_.join();
    }
    pausable_proxy(const pausable_proxy&) = delete;
    pausable_proxy& operator=(const pausable_proxy&) = delete;

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    // Connections refused since the last close(): each is a reconnect attempt that failed.
    [[nodiscard]] int refused() const { return refused_.load(); }

    void close() {
        boost::asio::post(context_, [this] {
            open_ = false;
            refused_ = 0;
            for (auto& weak : pairs_) {
                if (auto p = weak.lock()) {
                    boost::system::error_code ec;
                    p->client.close(ec);
                    p->server.close(ec);
                }
            }
            pairs_.clear();
        });
    }
    void open() {
        boost::asio::post(context_, [this] {
            open_ = true;
            swallow_up_ = false;
            swallow_down_ = false;
        });
    }
    enum class direction { up, down };
    void swallow(direction which) { (which == direction::up ? swallow_up_ : swallow_down_) = true; }
    // Bytes dropped by swallow() so far.
    [[nodiscard]] std::size_t swallowed() const { return swallowed_.load(); }

private:
    struct pair {
        explicit pair(boost::asio::io_context& context) : client(context), server(context) {}
        boost::asio::ip::tcp::socket client;
        boost::asio::ip::tcp::socket server;
        std::array<char, 16384> up{};
        std::array<char, 16384> down{};
    };

    void do_accept() {
        auto p = std::make_shared<pair>(context_);
        acceptor_.async_accept(p->client, [this, p](const boost::system::error_code& ec) {
            if (ec) {
                return;
            }
            do_accept();
            if (!open_) {
                boost::system::error_code ignored;
                p->client.close(ignored);
                ++refused_;
                return;
            }
            p->server.async_connect(target_, [this, p](const boost::system::error_code& error) {
                if (error) {
                    return;
                }
                pairs_.push_back(p);
                pump(p, p->client, p->server, p->up, swallow_up_);
                pump(p, p->server, p->client, p->down, swallow_down_);
            });
        });
    }

    void pump(const std::shared_ptr<pair>& p, boost::asio::ip::tcp::socket& from,
              boost::asio::ip::tcp::socket& to, std::array<char, 16384>& buffer,
              const std::atomic<bool>& swallowing) {
        from.async_read_some(
            boost::asio::buffer(buffer), [this, p, &from, &to, &buffer, &swallowing](
                                             const boost::system::error_code& ec, std::size_t n) {
                if (ec) {
                    boost::system::error_code ignored;
                    to.close(ignored);
                    return;
                }
                if (swallowing) {
                    swallowed_ += n;
                    return pump(p, from, to, buffer, swallowing);
                }
                boost::asio::async_write(to, boost::asio::buffer(buffer.data(), n),
                                         [this, p, &from, &to, &buffer, &swallowing](
                                             const boost::system::error_code& error, std::size_t) {
                                             if (!error) {
                                                 pump(p, from, to, buffer, swallowing);
                                             }
                                         });
            });
    }

    boost::asio::io_context context_;
    boost::asio::ip::tcp::endpoint target_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<pair>> pairs_;
    bool open_ = true;  // on the proxy's thread
    std::atomic<int> refused_{0};
    std::atomic<bool> swallow_up_{false};
    std::atomic<bool> swallow_down_{false};
    std::atomic<std::size_t> swallowed_{0};
    std::thread thread_;
};

}  // namespace
}  // namespace switchboard::routing::redis

namespace switchboard::routing::conformance {
namespace {

struct redis_stream_factory {
    static bool available() { return testing::redis_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        redis::stream_options options;
        options.client.connection.host = "127.0.0.1";
        options.client.connection.port = server.port();
        options.server_name = std::string("instance-").append(std::to_string(++made));
        options.window = std::chrono::minutes(1);
        return std::make_unique<redis::stream_backplane>(control, std::move(options));
    }
    testing::redis_server server;
    int made = 0;
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis_stream, backplane_conformance, redis_stream_factory);

}  // namespace
}  // namespace switchboard::routing::conformance

namespace switchboard::routing::log_conformance {
namespace {

// Each instance reaches Redis through a proxy of its own, so that one can be cut off alone.
struct redis_stream_log_factory {
    using bus_type = redis::stream_backplane;
    static constexpr log_capabilities capabilities{.cap_slack = 100};  // MAXLEN ~: whole nodes
    static bool available() { return testing::redis_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<bus_type> make(boost::asio::io_context& control,
                                   const instance_options& options) {
        auto& proxy = proxies.emplace_back(std::make_unique<redis::pausable_proxy>(server.port()));
        redis::stream_options stream;
        stream.client.connection.host = "127.0.0.1";
        stream.client.connection.port = proxy->port();
        stream.client.initial_backoff = 20ms;
        stream.client.max_backoff = 200ms;
        stream.server_name = options.name;
        stream.window = 1min;
        stream.max_entries = options.max_entries;
        stream.max_bytes = options.max_bytes;
        stream.trim_interval = 50ms;
        auto bus = std::make_unique<bus_type>(control, std::move(stream));
        proxy_of[bus.get()] = proxy.get();
        return bus;
    }
    void trim(std::size_t keep) {
        (void)server.integer_command({},
                                     {"XTRIM", "switchboard:log", "MAXLEN", std::to_string(keep)});
    }
    void cut(bus_type& bus) {
        cut_off = proxy_of.at(&bus);
        cut_off->close();
    }
    // Both of its connections tried again and were refused: it reads nothing meanwhile.
    void backend_back() {
        ASSERT_TRUE(eventually([&] { return cut_off->refused() >= 2; }));
    }
    void heal(bus_type& bus) { proxy_of.at(&bus)->open(); }

    testing::redis_server server;
    std::vector<std::unique_ptr<redis::pausable_proxy>> proxies;
    std::map<const bus_type*, redis::pausable_proxy*> proxy_of;
    redis::pausable_proxy* cut_off = nullptr;
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis_stream, durable_log_conformance, redis_stream_log_factory);

}  // namespace
}  // namespace switchboard::routing::log_conformance

namespace switchboard::routing::redis {
namespace {

// What one instance sees: the handler's messages and the observer's entries and gaps.
struct instance final : backplane_handler, log_observer {
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        messages.push_back({std::string(channel), *payload});
    }
    void on_log_entry(const log_entry& entry) override { entries.push_back(entry); }
    void on_log_gap() override { ++gaps; }

    std::unique_ptr<stream_backplane> bus;
    std::vector<testing::received_message> messages;
    std::vector<log_entry> entries;
    int gaps = 0;
};

class StreamBackplaneTest : public testing::redis_test {
protected:
    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed (scripts/install-deps --test)";
        }
        ASSERT_TRUE(server_.start());
    }
    void TearDown() override {
        for (auto& i : instances_) {
            if (i->bus) {
                i->bus->stop();
            }
        }
    }

    // An instance named `name`, on the server directly or through `port`.
    instance& make(const std::string& name, std::uint16_t port = 0) {
        stream_options options;
        options.client.connection.host = "127.0.0.1";
        options.client.connection.port = port != 0 ? port : server_.port();
        // Quick retries: the tests cut links and wait for them to come back.
        options.client.initial_backoff = 20ms;
        options.client.max_backoff = 200ms;
        options.server_name = name;
        options.key_prefix = "app:";
        options.window = std::chrono::minutes(1);
        auto& i = *instances_.emplace_back(std::make_unique<instance>());
        i.bus = std::make_unique<stream_backplane>(context_, std::move(options));
        i.bus->set_observer(&i);
        i.bus->start(i);
        EXPECT_TRUE(run_until([&] { return i.bus->connected(); }));
        return i;
    }

    void publish(instance& from, const std::string& channel, const std::string& payload) {
        from.bus->publish(channel, make_shared_buffer(payload));
    }

    // Publishes "<label> 0" ... "<label> count-1" on "chat", each appended to `sent`.
    void publish_numbered(instance& from, const std::string& label, int count,
                          std::vector<std::string>& sent) {
        for (int i = 0; i < count; ++i) {
            sent.push_back(label + " " + std::to_string(i));
            publish(from, "chat", sent.back());
        }
    }

    static std::vector<std::string> payloads(const instance& to) {
        std::vector<std::string> out;
        for (const auto& m : to.messages) {
            out.push_back(m.payload);
        }
        return out;
    }

    // Every instance has read up to a marker each one published after it started reading.
    void settle() {
        for (auto& from : instances_) {
            const auto marker = std::string("settle-").append(std::to_string(++markers_));
            publish(*from, "settle", marker);
            for (auto& to : instances_) {
                ASSERT_TRUE(run_until([&] {
                    return std::any_of(to->entries.begin(), to->entries.end(),
                                       [&](const log_entry& e) { return *e.payload == marker; });
                })) << marker;
            }
        }
        for (auto& i : instances_) {
            i->entries.clear();
            i->messages.clear();
        }
    }

    redis_server server_;
    std::vector<std::unique_ptr<instance>> instances_;
    int markers_ = 0;
};

TEST_F(StreamBackplaneTest, publications_made_before_start_go_out_once_started) {
    auto& a = make("a");
    a.bus->subscribe("chat");
    settle();
    stream_options options;
    options.client.connection.host = "127.0.0.1";
    options.client.connection.port = server_.port();
    options.server_name = "early";
    options.key_prefix = "app:";
    instance early;
    early.bus = std::make_unique<stream_backplane>(context_, std::move(options));
    publish(early, "chat", "before start");
    early.bus->start(early);
    ASSERT_TRUE(run_until([&] { return a.messages.size() == 1; }));
    EXPECT_EQ(a.messages[0].payload, "before start");
    EXPECT_TRUE(run_until([&] { return early.bus->unconfirmed_publications() == 0; }));
    early.bus->stop();
}

TEST_F(StreamBackplaneTest, a_redis_restart_without_persistence_is_a_gap) {
    auto& a = make("a");
    auto& b = make("b");
    a.bus->subscribe("chat");
    settle();
    server_.kill();
    ASSERT_TRUE(run_until([&] { return !a.bus->connected() && !b.bus->connected(); }));
    ASSERT_TRUE(server_.start());
    ASSERT_TRUE(run_until([&] { return a.gaps == 1 && b.gaps == 1; }));
    // Publications after it flow again (the first may land before a's check moves it to the
    // new stream's end: sent until one arrives).
    ASSERT_TRUE(run_until([&] {
        if (a.messages.empty()) {
            publish(b, "chat", "after the restart");
            run_for(100ms);
        }
        return !a.messages.empty();
    }));
    EXPECT_EQ(a.messages[0].payload, "after the restart");
    EXPECT_EQ(a.gaps, 1);
}

// The appends a broken connection took with it are sent again: those Redis never saw land
// once, in the writer's order, ahead of what was published during the outage.
TEST_F(StreamBackplaneTest, appends_lost_on_the_wire_are_sent_again_in_order) {
    auto& reader = make("reader");
    reader.bus->subscribe("chat");
    pausable_proxy proxy(server_.port());
    auto& writer = make("writer", proxy.port());
    settle();
    proxy.swallow(pausable_proxy::direction::up);
    std::vector<std::string> expected;
    publish_numbered(writer, "in flight", 100, expected);
    // Handed to the socket, swallowed before Redis: in flight, never to be answered.
    ASSERT_TRUE(
        run_until([&] { return writer.bus->buffered_bytes() == 0 && proxy.swallowed() > 0; }));
    proxy.close();
    ASSERT_TRUE(run_until([&] { return !writer.bus->connected(); }));
    publish_numbered(writer, "during the outage", 50, expected);
    proxy.open();
    ASSERT_TRUE(run_until([&] { return reader.messages.size() >= expected.size(); }));
    EXPECT_TRUE(run_until([&] { return writer.bus->unconfirmed_publications() == 0; }));
    publish(writer, "chat", "after");
    expected.push_back("after");
    ASSERT_TRUE(run_until([&] { return reader.messages.size() >= expected.size(); }));
    EXPECT_EQ(payloads(reader), expected);
    EXPECT_EQ(writer.bus->dropped_publications(), 0U);
}

// Appends Redis ran whose replies were lost are sent again and skipped: each lands once.
TEST_F(StreamBackplaneTest, appends_whose_replies_were_lost_land_once) {
    auto& reader = make("reader");
    reader.bus->subscribe("chat");
    pausable_proxy proxy(server_.port());
    auto& writer = make("writer", proxy.port());
    settle();
    proxy.swallow(pausable_proxy::direction::down);
    std::vector<std::string> expected;
    publish_numbered(writer, "applied", 100, expected);
    ASSERT_TRUE(run_until([&] { return reader.messages.size() == expected.size(); }));
    EXPECT_EQ(writer.bus->unconfirmed_publications(), expected.size());
    proxy.close();
    ASSERT_TRUE(run_until([&] { return !writer.bus->connected(); }));
    proxy.open();
    ASSERT_TRUE(run_until([&] { return writer.bus->unconfirmed_publications() == 0; }));
    publish(writer, "chat", "after");
    expected.push_back("after");
    // Anything sent twice would have arrived ahead of "after" (one writer, one order).
    ASSERT_TRUE(run_until([&] { return reader.messages.size() >= expected.size(); }));
    EXPECT_EQ(payloads(reader), expected);
}

TEST(StreamBackplaneRegistration, durable_mode_builds_the_stream_bus_on_one_server_only) {
    boost::asio::io_context control;
    backplane_factory factory;
    register_redis_backplane(factory);
    backplane_settings settings;
    settings.control = &control;
    settings.max_buffered_bytes = 1 << 20;
    settings.server_name = "me";
    const auto plain = factory.make("127.0.0.1:6379", settings);
    EXPECT_EQ(plain.log, nullptr);
    EXPECT_EQ(dynamic_cast<stream_backplane*>(plain.bus.get()), nullptr);

    settings.durable_window = std::chrono::minutes(2);
    const auto durable = factory.make("127.0.0.1:6379,channelPrefix=app:", settings);
    ASSERT_NE(durable.log, nullptr);
    auto* stream = dynamic_cast<stream_backplane*>(durable.bus.get());
    ASSERT_NE(stream, nullptr);
    EXPECT_EQ(static_cast<durable_log*>(stream), durable.log);
    EXPECT_EQ(stream->log_key(), "app:switchboard:log");
    EXPECT_EQ(durable.log->window(), std::chrono::minutes(2));
    EXPECT_EQ(durable.log->position(), "0-0");

    try {
        (void)factory.make("127.0.0.1:7000,shardedPubSub=true", settings);
        ADD_FAILURE() << "a cluster connection string was accepted for durable mode";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("single Redis server"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace switchboard::routing::redis
