// Durable mode's PostgreSQL log against a real, throwaway cluster: the scale-out and durable_log
// conformance suites (cut off: the reading session is terminated), and what is PostgreSQL's own:
// racing publishers never making a reader skip an entry, a server crash, a writer cut mid-burst,
// the window's trimming.
#include "../../unit/routing/backplane_conformance.hpp"
#include "../../unit/routing/durable_log_conformance.hpp"

#include "postgres_server.hpp"
#include "routing/postgres/log_backplane.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::routing {
namespace {

using namespace std::chrono_literals;
using testing::postgres_server;

// One cluster for every test here (initdb costs about a second). Stopped at exit.
postgres_server* shared_server() {
    static auto server = [] {
        auto s = std::make_unique<postgres_server>();
        return s->start() ? std::move(s) : nullptr;
    }();
    return server.get();
}

// Each bus a name of its own, each test a schema of its own: logs never mix.
std::string unique(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + std::to_string(++counter);
}

postgres::log_options options_for(const std::string& schema, const std::string& server_name) {
    postgres::log_options options;
    options.conninfo = shared_server()->conninfo();
    options.schema = schema;
    options.server_name = server_name;
    // Quick retries, so a cut session is back within the test's deadlines.
    options.initial_backoff = 20ms;
    options.max_backoff = 300ms;
    options.connect_timeout = 2s;
    return options;
}

}  // namespace

namespace conformance {
namespace {

struct postgres_log_factory {
    static bool available() { return postgres_server::available(); }
    void set_up() { ASSERT_NE(shared_server(), nullptr) << "the PostgreSQL cluster did not start"; }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        return std::make_unique<postgres::log_backplane>(control,
                                                         options_for(schema, unique("server-")));
    }
    std::string schema = unique("conformance_");
};

INSTANTIATE_TYPED_TEST_SUITE_P(postgres_log, backplane_conformance, postgres_log_factory);

}  // namespace
}  // namespace conformance

namespace log_conformance {
namespace {

// Cut: the reading session is terminated; a slow instance stays away 1.5 s, enough to trim.
struct postgres_log_log_factory {
    using bus_type = postgres::log_backplane;
    static constexpr log_capabilities capabilities{.binary_records = false};
    static bool available() { return postgres_server::available(); }
    void set_up() { ASSERT_NE(shared_server(), nullptr) << "the PostgreSQL cluster did not start"; }
    std::unique_ptr<bus_type> make(boost::asio::io_context& control,
                                   const instance_options& options) {
        auto log = options_for(schema, options.name);
        if (options.slow_reconnect) {
            log.initial_backoff = 1500ms;
            log.max_backoff = 1500ms;
        }
        log.window = 1min;
        log.max_entries = options.max_entries;
        log.max_bytes = options.max_bytes;
        log.trim_interval = 50ms;
        return std::make_unique<bus_type>(control, std::move(log));
    }
    void trim(std::size_t keep) {
        const auto table = "\"" + schema + "\".switchboard_log";
        (void)shared_server()->query("DELETE FROM " + table + " WHERE id NOT IN (SELECT id FROM " +
                                     table + " ORDER BY id DESC LIMIT " + std::to_string(keep) +
                                     ")");
    }
    void cut(bus_type& bus) {
        ASSERT_EQ(shared_server()->query("SELECT pg_terminate_backend(" +
                                         std::to_string(bus.reader_pid()) + ")"),
                  "t");
    }
    void backend_back() {}
    void heal(bus_type&) {}
    std::string schema = unique("log_conformance_");
};

INSTANTIATE_TYPED_TEST_SUITE_P(postgres_log, durable_log_conformance, postgres_log_log_factory);

}  // namespace
}  // namespace log_conformance

namespace {

struct recorder final : backplane_handler, log_observer {
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        messages.emplace_back(std::string(channel), *payload);
    }
    void on_log_entry(const log_entry& entry) override { entries.push_back(entry); }
    void on_log_gap() override { ++gaps; }

    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<log_entry> entries;
    int gaps = 0;
};

class log_backplane_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (!postgres_server::available()) {
            GTEST_SKIP() << "PostgreSQL 15 binaries (or the postgres user) missing";
        }
        ASSERT_NE(shared_server(), nullptr);
    }

    std::unique_ptr<postgres::log_backplane> make(const std::string& name,
                                                  std::chrono::milliseconds backoff = 20ms) {
        auto options = options_for(schema_, name);
        options.initial_backoff = backoff;
        options.max_backoff = std::max<std::chrono::milliseconds>(backoff, 300ms);
        return std::make_unique<postgres::log_backplane>(context_, std::move(options));
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

    bool start(postgres::log_backplane& bus, recorder& into) {
        bus.set_observer(&into);
        bus.start(into);
        return run_until([&] { return bus.connected(); });
    }

    // The first value of the first row of `sql` over the fixture's own connection.
    std::string query(const std::string& sql) { return shared_server()->query(sql); }
    std::string table(const std::string& name) const { return "\"" + schema_ + "\"." + name; }

    // Waits for an async durable_log call's answer.
    template <class T, class Call>
    std::optional<T> await(Call call) {
        std::optional<T> out;
        call([&](T value) { out.emplace(std::move(value)); });
        if (!run_until([&] { return out.has_value(); })) {
            return std::nullopt;
        }
        return out;
    }

    boost::asio::io_context context_;  // first: outlives the buses of a test body
    std::string schema_ = unique("durable_");
};

// "<prefix><i>" (appended, not operator+: GCC 12 warns falsely on "literal" + std::string).
std::string numbered(const char* prefix, int i) {
    std::string out(prefix);
    out += std::to_string(i);
    return out;
}

std::string ids_of(const std::vector<log_entry>& entries) {
    std::string out;
    for (const auto& e : entries) {
        out += e.id + " ";
    }
    return out;
}

TEST_F(log_backplane_test, racing_publishers_never_make_a_reader_skip_an_entry) {
    auto reader = make("reader");
    recorder seen;
    ASSERT_TRUE(start(*reader, seen));
    constexpr int writers = 4;
    constexpr int each = 1500;
    std::vector<std::unique_ptr<postgres::log_backplane>> buses;
    std::vector<recorder> ignored(writers);
    for (int w = 0; w < writers; ++w) {
        buses.push_back(make(numbered("w", w)));
        ASSERT_TRUE(start(*buses.back(), ignored[static_cast<std::size_t>(w)]));
    }
    // Interleaved, so the writers' batches (one transaction each) race for the counter row
    // while the reader reads pages between their commits.
    for (int i = 0; i < each; ++i) {
        for (int w = 0; w < writers; ++w) {
            buses[static_cast<std::size_t>(w)]->publish("race",
                                                        make_shared_buffer(std::to_string(i)));
        }
        if (i % 100 == 0) {
            context_.poll();
        }
    }
    ASSERT_TRUE(run_until([&] { return seen.entries.size() >= writers * each; }, 60s))
        << seen.entries.size();
    run_until([] { return false; }, 200ms);  // nothing more may come
    ASSERT_EQ(seen.entries.size(), static_cast<std::size_t>(writers * each));
    EXPECT_EQ(seen.gaps, 0);
    // Consecutive ids, and each writer's entries once each, in its publish order.
    std::map<std::string, int> next;
    const auto first = std::stoll(seen.entries.front().id);
    for (std::size_t i = 0; i < seen.entries.size(); ++i) {
        const auto& e = seen.entries[i];
        ASSERT_EQ(std::stoll(e.id), first + static_cast<long long>(i)) << ids_of(seen.entries);
        ASSERT_EQ(*e.payload, std::to_string(next[e.origin]++)) << e.origin;
    }
    for (int w = 0; w < writers; ++w) {
        EXPECT_EQ(next[numbered("w", w)], each);
    }
}

TEST_F(log_backplane_test, a_server_crash_loses_nothing_committed_or_buffered) {
    postgres_server server;
    ASSERT_TRUE(server.start());
    const auto make_on = [&](const std::string& name) {
        auto options = options_for(schema_, name);
        options.conninfo = server.conninfo();
        return std::make_unique<postgres::log_backplane>(context_, std::move(options));
    };
    auto a = make_on("a");
    auto b = make_on("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    a->subscribe("news");
    for (int i = 0; i < 10; ++i) {
        b->publish("news", make_shared_buffer(numbered("before", i)));
    }
    ASSERT_TRUE(run_until([&] { return at_a.messages.size() == 10; }));

    server.kill();
    ASSERT_TRUE(run_until([&] { return !a->connected() && !b->connected(); }));
    // Both down, so these wait in b's buffer rather than being lost in flight.
    for (int i = 0; i < 10; ++i) {
        b->publish("news", make_shared_buffer(numbered("during", i)));
    }
    ASSERT_TRUE(server.start());
    ASSERT_TRUE(run_until([&] { return at_a.messages.size() == 20; }, 30s)) << at_a.messages.size();
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(at_a.messages[static_cast<std::size_t>(i) + 10].second, numbered("during", i));
    }
    // The log is a table: it outlives the crash, so nobody saw a gap, and both instances agree.
    EXPECT_EQ(at_a.gaps + at_b.gaps, 0);
    ASSERT_TRUE(run_until([&] { return at_b.entries.size() == 20; }));
    EXPECT_EQ(ids_of(at_a.entries), ids_of(at_b.entries));
    EXPECT_EQ(b->dropped_publications(), 0u);
    // The writer's answer comes on its own session, so the reader may see the entries first.
    EXPECT_TRUE(run_until([&] { return b->unconfirmed_publications() == 0; }))
        << b->unconfirmed_publications();
    a.reset();
    b.reset();
}

TEST_F(log_backplane_test, a_writer_cut_mid_burst_appends_each_entry_exactly_once) {
    auto reader = make("reader");
    auto writer = make("writer");
    recorder seen;
    recorder ignored;
    ASSERT_TRUE(start(*reader, seen));
    ASSERT_TRUE(start(*writer, ignored));
    constexpr int count = 20'000;
    for (int i = 0; i < count; ++i) {
        writer->publish("burst", make_shared_buffer(std::to_string(i)));
    }
    // Batches follow each other back to back: the writing session dies with one in flight,
    // rolled back or committed without its answer. Either way it must count once.
    ASSERT_TRUE(run_until([&] { return seen.entries.size() >= 3'000; }));
    EXPECT_EQ(query(numbered("SELECT pg_terminate_backend(", writer->writer_pid()) + ")"), "t");
    ASSERT_TRUE(run_until([&] { return seen.entries.size() >= count; }, 60s))
        << seen.entries.size();
    ASSERT_TRUE(run_until([&] { return writer->unconfirmed_publications() == 0; }));
    run_until([] { return false; }, 200ms);  // nothing more may come
    ASSERT_EQ(seen.entries.size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        ASSERT_EQ(*seen.entries[static_cast<std::size_t>(i)].payload, std::to_string(i)) << i;
    }
    EXPECT_EQ(seen.gaps, 0);
    EXPECT_EQ(writer->refused_publications(), 0u);
    EXPECT_GE(writer->reconnects(), 1u);
}

TEST_F(log_backplane_test, the_window_and_the_cap_trim_the_log) {
    auto options = options_for(schema_, "trimmer");
    options.window = 2s;
    options.max_entries = 5;
    options.trim_interval = 50ms;
    postgres::log_backplane bus(context_, options);
    recorder seen;
    ASSERT_TRUE(start(bus, seen));
    for (int i = 0; i < 20; ++i) {
        bus.publish("c", make_shared_buffer(std::to_string(i)));
    }
    ASSERT_TRUE(run_until([&] { return seen.entries.size() == 20; }));
    // The cap first (the window is still open), then the window takes the rest.
    const auto count = "SELECT count(*) FROM " + table("switchboard_log");
    ASSERT_TRUE(run_until([&] { return query(count) == "5"; }, 5s)) << query(count);
    EXPECT_EQ(query("SELECT min(id) FROM " + table("switchboard_log")), seen.entries[15].id);
    ASSERT_TRUE(run_until([&] { return query(count) == "0"; }, 10s)) << query(count);
    EXPECT_EQ(seen.gaps, 0);
}

}  // namespace
}  // namespace switchboard::routing
