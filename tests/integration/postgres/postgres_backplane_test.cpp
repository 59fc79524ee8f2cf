// The PostgreSQL backplane against a real, throwaway cluster: the scale-out conformance suite,
// and what is PostgreSQL's own: folded identical NOTIFYs, the payload table, identifier
// limits, a server crash, foreign NOTIFYs, concurrent schema creation.
#include "../../unit/routing/backplane_conformance.hpp"

#include "postgres_server.hpp"
#include "routing/postgres/connection_string.hpp"
#include "routing/postgres/postgres_backplane.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::routing {
namespace {

using namespace std::chrono_literals;
using testing::postgres_server;

// One cluster for the tests that do not stop it: initdb costs about a second. Stopped at exit.
postgres_server* shared_server() {
    static auto server = [] {
        auto s = std::make_unique<postgres_server>();
        return s->start() ? std::move(s) : nullptr;
    }();
    return server.get();
}

postgres::backplane_options options_for(const postgres_server& server) {
    postgres::backplane_options options;
    options.conninfo = server.conninfo();
    // Quick retries, so a restart is noticed within the test's deadlines.
    options.initial_backoff = 20ms;
    options.max_backoff = 300ms;
    options.connect_timeout = 2s;
    return options;
}

}  // namespace

namespace conformance {
namespace {

struct postgres_factory {
    static bool available() { return postgres_server::available(); }
    void set_up() { ASSERT_NE(shared_server(), nullptr) << "the PostgreSQL cluster did not start"; }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        return std::make_unique<postgres::postgres_backplane>(control,
                                                              options_for(*shared_server()));
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(postgres, backplane_conformance, postgres_factory);

}  // namespace
}  // namespace conformance

namespace {

struct recorder final : backplane_handler {
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        messages.emplace_back(std::string(channel), *payload);
    }
    [[nodiscard]] std::size_t count(const std::string& channel) const {
        std::size_t n = 0;
        for (const auto& m : messages) {
            n += m.first == channel ? 1 : 0;
        }
        return n;
    }
    std::vector<std::pair<std::string, std::string>> messages;
};

class postgres_backplane_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (!postgres_server::available()) {
            GTEST_SKIP() << "PostgreSQL 15 binaries (or the postgres user) missing";
        }
        ASSERT_NE(shared_server(), nullptr);
    }

    // Runs the io_context on the test thread until the condition holds (no fixed sleeps).
    bool run_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = 20s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!condition()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            context_.run_one_for(10ms);
            if (context_.stopped()) {
                context_.restart();
            }
        }
        return true;
    }

    // Starts the bus and subscribes `channels`, returning once the LISTENs are acknowledged.
    bool start_listening(postgres::postgres_backplane& bus, recorder& into,
                         const std::vector<std::string>& channels) {
        bus.start(into);
        if (!run_until([&] { return bus.connected(); })) {
            return false;
        }
        std::size_t acknowledged = 0;
        for (const auto& channel : channels) {
            bus.subscribe(channel);
            bus.when_subscribed(channel, [&] { ++acknowledged; });
        }
        return run_until([&] { return acknowledged == channels.size(); });
    }

    boost::asio::io_context context_;  // first: outlives the buses of a test body
};

TEST_F(postgres_backplane_test, identical_payloads_in_one_batch_arrive_once_each) {
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    recorder received;
    ASSERT_TRUE(start_listening(receiver, received, {"twins"}));

    // Published before the sender connects: buffered, then sent as one pipeline batch, one
    // transaction, where PostgreSQL would fold identical NOTIFYs.
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder ignored;
    for (int i = 0; i < 3; ++i) {
        sender.publish("twins", make_shared_buffer("same bytes"));
    }
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return received.count("twins") == 3; })) << received.count("twins");
    for (const auto& m : received.messages) {
        EXPECT_EQ(m.second, "same bytes");
    }
    // Delivered at commit, possibly before the sender has read its own results.
    EXPECT_TRUE(run_until([&] { return sender.statistics().published == 3; }));
}

TEST_F(postgres_backplane_test, own_publications_are_not_delivered_back) {
    postgres::postgres_backplane a(context_, options_for(*shared_server()));
    postgres::postgres_backplane b(context_, options_for(*shared_server()));
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start_listening(a, at_a, {"echo"}));
    ASSERT_TRUE(start_listening(b, at_b, {"echo"}));
    a.publish("echo", make_shared_buffer("from a"));
    ASSERT_TRUE(
        run_until([&] { return at_b.count("echo") == 1 && a.statistics().echoes_dropped == 1; }));
    b.publish("echo", make_shared_buffer("from b"));
    ASSERT_TRUE(
        run_until([&] { return at_a.count("echo") == 1 && b.statistics().echoes_dropped == 1; }));
    EXPECT_EQ(at_a.messages.at(0).second, "from b");
    EXPECT_EQ(at_b.count("echo"), 1u);
}

TEST_F(postgres_backplane_test, large_payloads_go_through_the_table_in_order) {
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"big"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));

    std::string large(100 * 1024, '\0');
    for (std::size_t i = 0; i < large.size(); ++i) {
        large[i] = static_cast<char>(i * 7 + 3);  // every byte value, NULs included
    }
    const std::string just_over(5986, 'x');
    const std::string just_under(5985, 'y');
    sender.publish("big", make_shared_buffer("first"));
    sender.publish("big", make_shared_buffer(large));
    sender.publish("big", make_shared_buffer("after the large one"));
    sender.publish("big", make_shared_buffer(just_over));
    sender.publish("big", make_shared_buffer(just_under));
    ASSERT_TRUE(run_until([&] { return received.count("big") == 5; }));
    EXPECT_EQ(received.messages[0].second, "first");
    EXPECT_EQ(received.messages[1].second, large);
    EXPECT_EQ(received.messages[2].second, "after the large one");
    EXPECT_EQ(received.messages[3].second, just_over);
    EXPECT_EQ(received.messages[4].second, just_under);
    EXPECT_EQ(shared_server()->query("SELECT count(*) >= 2 FROM signalr.big_payloads"), "t");
}

TEST_F(postgres_backplane_test, each_hub_has_its_own_payload_table) {
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    const std::vector<std::string> channels{"MyApp.Hubs.ChatHub:all", "Other:group:g"};
    ASSERT_TRUE(start_listening(receiver, received, channels));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    const std::string large(20'000, 'z');
    for (const auto& channel : channels) {
        sender.publish(channel, make_shared_buffer(large + channel));
    }
    ASSERT_TRUE(run_until([&] { return received.messages.size() == 2; }));
    EXPECT_EQ(received.messages[0].second, large + channels[0]);
    EXPECT_EQ(received.messages[1].second, large + channels[1]);
    // Named as the ASP.NET Npgsql backplane's TableSlugGenerator (the hub in lowercase).
    EXPECT_EQ(
        shared_server()->query("SELECT count(*) FROM signalr.\"myapp.hubs.chathub_payloads\""),
        "1");
    EXPECT_EQ(shared_server()->query("SELECT count(*) FROM signalr.other_payloads"), "1");
}

TEST_F(postgres_backplane_test, expired_payload_rows_are_deleted) {
    auto options = options_for(*shared_server());
    options.schema = "cleanup";
    options.payload_ttl = 0ms;
    options.cleanup_interval = 50ms;
    postgres::postgres_backplane sender(context_, options);
    recorder ignored;
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    sender.publish("nobody listens", make_shared_buffer(std::string(10'000, 'x')));
    // Confirmed: the INSERT ... RETURNING of a 10 KB payload returned its row.
    ASSERT_TRUE(run_until([&] { return sender.statistics().published == 1; }));
    // Inserted, then deleted by a cleanup run (it may already be gone when first looked at).
    ASSERT_TRUE(run_until([&] {
        return shared_server()->query("SELECT count(*) FROM cleanup.\"nobody listens_payloads\"") ==
               "0";
    }));
}

TEST_F(postgres_backplane_test, long_and_odd_channel_names_round_trip) {
    const std::vector<std::string> names{
        "MyApp.Hubs.ChatHub:group:" + std::string(200, 'g'),  // hashed: over 63 bytes
        "MyApp.Hubs.ChatHub:group:" + std::string(200, 'h'),  // shares the first 63 bytes
        "Hub:group:a:b:c",
        "Hub:group:\"quoted\" and 'single'",
        "Hub:group:grüße 日本",
        "#starts with a hash",
        "UPPER and lower",
        "upper AND LOWER",
    };
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, names));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    for (const auto& name : names) {
        sender.publish(name, make_shared_buffer("to " + name));
    }
    ASSERT_TRUE(run_until([&] { return received.messages.size() == names.size(); }));
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(received.messages[i].first, names[i]);
        EXPECT_EQ(received.messages[i].second, "to " + names[i]);
    }
}

TEST_F(postgres_backplane_test, foreign_and_broken_notifications_are_counted_and_skipped) {
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"fragile"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));

    EXPECT_EQ(shared_server()->query("NOTIFY fragile, 'not ours'"), "");
    EXPECT_EQ(shared_server()->query("SELECT pg_notify('fragile', 'i1:!!!!')"), "");
    // A reference to a row that does not exist (deleted by the cleanup, say).
    EXPECT_EQ(shared_server()->query("SELECT pg_notify('fragile', 'r1:999999999')"), "");
    ASSERT_TRUE(run_until([&] {
        const auto s = receiver.statistics();
        return s.malformed == 2 && s.missing_payloads == 1;
    }));
    sender.publish("fragile", make_shared_buffer("still fine"));
    ASSERT_TRUE(run_until([&] { return received.count("fragile") == 1; }));
    EXPECT_EQ(received.messages.at(0).second, "still fine");
}

TEST_F(postgres_backplane_test, server_restart_buffers_and_listens_again) {
    postgres_server server;
    ASSERT_TRUE(server.start());
    auto options = options_for(server);
    // Longer than the other bus's reconnect: its listener is back before these go out.
    options.resume_delay = 1500ms;
    postgres::postgres_backplane sender(context_, options);
    postgres::postgres_backplane receiver(context_, options);
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"survivor"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    sender.publish("survivor", make_shared_buffer("before"));
    ASSERT_TRUE(run_until([&] { return received.count("survivor") == 1; }));

    server.kill();
    ASSERT_TRUE(run_until([&] { return !sender.connected() && !receiver.connected(); }));
    // Both sessions gone, so these are buffered rather than lost in flight.
    ASSERT_TRUE(run_until([&] { return sender.statistics().sessions_up == 0; }));
    sender.publish("survivor", make_shared_buffer("during 1"));
    sender.publish("survivor", make_shared_buffer(std::string(20'000, 'L')));  // via the table
    sender.publish("survivor", make_shared_buffer("during 2"));
    // Still down: nothing arrives.
    EXPECT_EQ(received.count("survivor"), 1u);

    ASSERT_TRUE(server.start());
    ASSERT_TRUE(run_until([&] { return received.count("survivor") == 4; }, 30s))
        << received.count("survivor");
    EXPECT_TRUE(run_until([&] { return sender.connected() && receiver.connected(); }));
    EXPECT_EQ(received.messages[1].second, "during 1");
    EXPECT_EQ(received.messages[2].second, std::string(20'000, 'L'));
    EXPECT_EQ(received.messages[3].second, "during 2");
    sender.publish("survivor", make_shared_buffer("after"));
    ASSERT_TRUE(run_until([&] { return received.count("survivor") == 5; }));
    EXPECT_EQ(sender.dropped_publications(), 0u);
}

TEST_F(postgres_backplane_test, a_burst_arrives_complete_and_in_order) {
    postgres::postgres_backplane receiver(context_, options_for(*shared_server()));
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"burst"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    constexpr int count = 20'000;
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        // 100-byte payloads, numbered: many pipeline batches, one after the other.
        auto text = std::to_string(i);
        text.resize(100, '.');
        sender.publish("burst", make_shared_buffer(std::move(text)));
    }
    ASSERT_TRUE(run_until([&] { return received.messages.size() == count; }, 60s))
        << received.messages.size();
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("postgres backplane: %d publications in %.3f s (%.0f/s, one instance to another)\n",
                count, seconds, count / seconds);
    for (int i = 0; i < count; ++i) {
        ASSERT_EQ(std::stoi(received.messages[i].second), i);
    }
    EXPECT_EQ(sender.dropped_publications(), 0u);
}

TEST_F(postgres_backplane_test, tls_with_verification_through_an_npgsql_string) {
    postgres_server server;
    ASSERT_TRUE(server.enable_tls());
    ASSERT_TRUE(server.start());
    const auto parsed = postgres::parse_connection_string(
        // A name: resolved by the bus (Asio), checked against the certificate by libpq.
        "Host=localhost;Port=" + std::to_string(server.port()) +
        ";Database=postgres;Username=postgres;SSL Mode=VerifyFull;Root Certificate=" +
        server.file("ca.crt"));
    ASSERT_TRUE(parsed) << parsed.error_message();
    auto options = options_for(server);
    options.conninfo = parsed->conninfo;
    postgres::postgres_backplane receiver(context_, options);
    postgres::postgres_backplane sender(context_, options);
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"secret"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    sender.publish("secret", make_shared_buffer("over TLS"));
    ASSERT_TRUE(run_until([&] { return received.count("secret") == 1; }));
    EXPECT_EQ(server.query("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                           "WHERE application_name = 'switchboard' AND ssl"),
              "4");

    // The wrong CA: verify-full refuses the server, and the bus stays down.
    auto wrong = options;
    wrong.conninfo =
        server.conninfo() + " sslmode=verify-full sslrootcert=" + server.file("server.crt");
    postgres::postgres_backplane refused(context_, wrong);
    refused.start(ignored);
    const auto until = std::chrono::steady_clock::now() + 500ms;
    run_until([&] { return std::chrono::steady_clock::now() >= until; });
    EXPECT_FALSE(refused.connected());
}

TEST_F(postgres_backplane_test, host_lists_are_resolved_and_tried_in_order) {
    // A name with a dead port first, then the live server by name and port: libpq gets one
    // host/hostaddr/port entry per resolved address and moves on after the refusal.
    const auto parsed = postgres::parse_connection_string(
        "Host=localhost:1,localhost:" + std::to_string(shared_server()->port()) +
        ";Database=postgres;Username=postgres");
    ASSERT_TRUE(parsed) << parsed.error_message();
    auto options = options_for(*shared_server());
    options.conninfo = parsed->conninfo;
    postgres::postgres_backplane receiver(context_, options);
    postgres::postgres_backplane sender(context_, options_for(*shared_server()));
    recorder received;
    recorder ignored;
    ASSERT_TRUE(start_listening(receiver, received, {"listed"}));
    sender.start(ignored);
    ASSERT_TRUE(run_until([&] { return sender.connected(); }));
    sender.publish("listed", make_shared_buffer("found"));
    ASSERT_TRUE(run_until([&] { return received.count("listed") == 1; }));
}

TEST_F(postgres_backplane_test, a_silent_server_hits_the_connect_timeout_and_is_retried) {
    // Accepts TCP connections and never answers the startup packet: only our own deadline
    // ends an attempt (libpq leaves it to the caller in non-blocking mode).
    boost::asio::ip::tcp::acceptor silent(
        context_, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> accepted;
    std::function<void()> accept_next = [&] {
        auto socket = std::make_unique<boost::asio::ip::tcp::socket>(context_);
        auto& s = *socket;
        silent.async_accept(s,
                            [&, socket = std::move(socket)](boost::system::error_code ec) mutable {
                                if (!ec) {
                                    accepted.push_back(std::move(socket));
                                    accept_next();
                                }
                            });
    };
    accept_next();
    postgres::backplane_options options;
    options.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) +
                       " user=postgres sslmode=disable";
    options.connect_timeout = 200ms;
    options.initial_backoff = 10ms;
    options.max_backoff = 50ms;
    postgres::postgres_backplane bus(context_, options);
    recorder ignored;
    bus.start(ignored);
    // Two sessions, each timing out and trying again: at least four attempts.
    ASSERT_TRUE(run_until([&] { return accepted.size() >= 4; }, 10s)) << accepted.size();
    EXPECT_FALSE(bus.connected());
    bus.stop();
    silent.close();
    run_until([&] { return context_.poll() == 0; }, 1s);
}

TEST_F(postgres_backplane_test, a_full_buffer_drops_and_counts) {
    postgres_server unused;  // never started: the bus stays down
    auto options = options_for(unused);
    options.max_buffered_bytes = 1000;
    postgres::postgres_backplane bus(context_, options);
    recorder ignored;
    bus.start(ignored);
    for (int i = 0; i < 10; ++i) {
        bus.publish("c", make_shared_buffer(std::string(300, 'x')));
    }
    ASSERT_TRUE(run_until([&] { return bus.dropped_publications() == 8; }));
    EXPECT_FALSE(bus.connected());
}

TEST_F(postgres_backplane_test, instances_starting_together_create_the_schema_once) {
    std::vector<std::unique_ptr<postgres::postgres_backplane>> buses;
    std::vector<recorder> received(4);
    auto options = options_for(*shared_server());
    options.schema = "concurrent \"schema\"";
    for (int i = 0; i < 4; ++i) {
        buses.push_back(std::make_unique<postgres::postgres_backplane>(context_, options));
    }
    // Started together: their DDL batches reach the server at the same time.
    for (int i = 0; i < 4; ++i) {
        buses[i]->start(received[i]);
        buses[i]->subscribe("shared");
    }
    ASSERT_TRUE(run_until([&] {
        for (auto& bus : buses) {
            if (!bus->connected()) {
                return false;
            }
        }
        return true;
    }));
    std::size_t acknowledged = 0;
    for (auto& bus : buses) {
        bus->when_subscribed("shared", [&] { ++acknowledged; });
    }
    ASSERT_TRUE(run_until([&] { return acknowledged == 4; }));
    // Each one's large payload needs the table it created (or found).
    for (int i = 0; i < 4; ++i) {
        buses[i]->publish("shared",
                          make_shared_buffer(std::string(10'000, static_cast<char>('a' + i))));
    }
    ASSERT_TRUE(run_until([&] {
        for (auto& r : received) {
            if (r.count("shared") != 3) {
                return false;
            }
        }
        return true;
    }));
    EXPECT_EQ(shared_server()->query(
                  "SELECT count(*) FROM pg_tables WHERE schemaname = 'concurrent \"schema\"'"),
              "1");
    for (auto& bus : buses) {
        EXPECT_EQ(bus->statistics().publish_errors, 0u);
    }
}

}  // namespace
}  // namespace switchboard::routing
