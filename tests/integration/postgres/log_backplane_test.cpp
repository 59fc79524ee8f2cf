// Durable mode's PostgreSQL log against a real, throwaway cluster: the scale-out conformance
// suite, one order for every instance (own entries included), racing publishers never making a
// reader skip an entry, catch-up after the reading session is cut, gaps, trimming, read_after
// and the records.
#include "../../unit/routing/backplane_conformance.hpp"

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

TEST_F(log_backplane_test, every_instance_sees_one_order_including_its_own_entries) {
    auto a = make("a");
    auto b = make("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    a->subscribe("room");
    b->subscribe("room");
    for (int i = 0; i < 50; ++i) {
        a->publish("room", make_shared_buffer(numbered("a", i)));
        b->publish("room", make_shared_buffer(numbered("b", i)));
        // Nobody subscribes here: only the observers see it.
        a->publish("elsewhere", make_shared_buffer(numbered("x", i)));
    }
    ASSERT_TRUE(run_until([&] { return at_a.entries.size() == 150 && at_b.entries.size() == 150; }))
        << at_a.entries.size() << " " << at_b.entries.size();
    for (std::size_t i = 0; i < 150; ++i) {
        const auto& x = at_a.entries[i];
        const auto& y = at_b.entries[i];
        EXPECT_EQ(x.id, y.id);
        EXPECT_EQ(x.origin, y.origin);
        EXPECT_EQ(x.channel, y.channel);
        EXPECT_EQ(*x.payload, *y.payload);
        if (i > 0) {
            EXPECT_EQ(compare_log_ids(at_a.entries[i - 1].id, x.id), -1);
        }
    }
    EXPECT_EQ(at_a.entries.back().id, a->position());
    EXPECT_EQ(a->position(), b->position());
    // The handlers: the other instance's entries on subscribed channels only, in publish order.
    ASSERT_EQ(at_a.messages.size(), 50u);
    ASSERT_EQ(at_b.messages.size(), 50u);
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(at_a.messages[static_cast<std::size_t>(i)],
                  std::make_pair(std::string("room"), numbered("b", i)));
        EXPECT_EQ(at_b.messages[static_cast<std::size_t>(i)],
                  std::make_pair(std::string("room"), numbered("a", i)));
    }
    EXPECT_EQ(at_a.gaps + at_b.gaps, 0);
    // Visible at commit, possibly before the writer has read its answers.
    EXPECT_TRUE(run_until([&] { return a->unconfirmed_publications() == 0; }));
    EXPECT_EQ(a->refused_publications(), 0u);
}

TEST_F(log_backplane_test, channel_names_and_payloads_are_any_bytes) {
    auto a = make("a");
    auto b = make("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    const std::string channel("hub\0:all\xff\xfe", 11);
    const std::string payload("\0\x01\x02\xff binary", 11);
    b->subscribe(channel);
    a->publish(channel, make_shared_buffer(payload));
    ASSERT_TRUE(run_until([&] { return at_b.messages.size() == 1; }));
    EXPECT_EQ(at_b.messages[0].first, channel);
    EXPECT_EQ(at_b.messages[0].second, payload);
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

TEST_F(log_backplane_test, a_cut_reader_catches_up_from_its_position) {
    // Slow retries for the reader: the other instance publishes while it is away.
    auto a = make("a", 1500ms);
    auto b = make("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    a->subscribe("news");
    b->publish("news", make_shared_buffer("before"));
    ASSERT_TRUE(run_until([&] { return at_a.messages.size() == 1; }));

    const auto pid = a->reader_pid();
    ASSERT_NE(pid, 0);
    EXPECT_EQ(query(numbered("SELECT pg_terminate_backend(", pid) + ")"), "t");
    ASSERT_TRUE(run_until([&] { return !a->connected(); }));
    for (int i = 0; i < 100; ++i) {
        b->publish("news", make_shared_buffer(std::to_string(i)));
    }
    ASSERT_TRUE(run_until([&] { return at_b.entries.size() == 101; }));
    EXPECT_FALSE(a->connected()) << "the reader came back before the test published";

    ASSERT_TRUE(run_until([&] { return at_a.messages.size() == 101; }));
    EXPECT_TRUE(a->connected());
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(at_a.messages[static_cast<std::size_t>(i) + 1].second, std::to_string(i));
    }
    EXPECT_EQ(at_a.gaps, 0);
    EXPECT_EQ(ids_of(at_a.entries), ids_of(at_b.entries));
    EXPECT_GE(a->reconnects(), 1u);
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
    EXPECT_EQ(b->unconfirmed_publications(), 0u);
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

TEST_F(log_backplane_test, entries_trimmed_past_a_readers_position_are_a_gap) {
    auto a = make("a", 1500ms);
    auto b = make("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    a->subscribe("news");
    EXPECT_EQ(query(numbered("SELECT pg_terminate_backend(", a->reader_pid()) + ")"), "t");
    ASSERT_TRUE(run_until([&] { return !a->connected(); }));
    for (int i = 0; i < 10; ++i) {
        b->publish("news", make_shared_buffer(std::to_string(i)));
    }
    ASSERT_TRUE(run_until([&] { return at_b.entries.size() == 10; }));
    // Trimmed as the window would, while the reader is away: the first 6 go.
    EXPECT_EQ(query("WITH d AS (DELETE FROM " + table("switchboard_log") +
                    " WHERE id <= " + at_b.entries[5].id + " RETURNING 1) SELECT count(*) FROM d"),
              "6");
    ASSERT_TRUE(run_until([&] { return at_a.gaps == 1; }));
    // On from the end: the entries still there are skipped, the next one arrives.
    EXPECT_EQ(a->position(), at_b.entries.back().id);
    b->publish("news", make_shared_buffer("after"));
    ASSERT_TRUE(run_until([&] { return at_a.messages.size() == 1; }));
    EXPECT_EQ(at_a.messages[0].second, "after");
    EXPECT_EQ(at_a.entries.size(), 1u);
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

TEST_F(log_backplane_test, read_after_is_exact_or_an_error) {
    auto bus = make("a");
    recorder seen;
    ASSERT_TRUE(start(*bus, seen));
    const auto start_position = bus->position();
    for (int i = 0; i < 5; ++i) {
        bus->publish("c", make_shared_buffer(std::to_string(i)));
    }
    ASSERT_TRUE(run_until([&] { return seen.entries.size() == 5; }));
    using result = expected<std::vector<log_entry>>;
    const auto read = [&](const std::string& after, std::size_t count) {
        return await<result>([&](auto done) { bus->read_after(after, count, std::move(done)); });
    };

    auto all = read(start_position, 100);
    ASSERT_TRUE(all && *all) << (all ? all->error_message() : "no answer");
    EXPECT_EQ(ids_of(**all), ids_of(seen.entries));
    EXPECT_EQ(*(**all)[4].payload, "4");
    EXPECT_EQ((**all)[4].origin, "a");
    EXPECT_EQ((**all)[4].channel, "c");

    auto from_start = read("0-0", 2);  // a fresh schema: the log starts at id 1
    ASSERT_TRUE(from_start && *from_start);
    ASSERT_EQ((*from_start)->size(), 2u);
    EXPECT_EQ((**from_start)[0].id, "1");

    auto middle = read(seen.entries[1].id, 2);
    ASSERT_TRUE(middle && *middle);
    ASSERT_EQ((*middle)->size(), 2u);
    EXPECT_EQ((**middle)[0].id, seen.entries[2].id);

    auto at_end = read(bus->position(), 10);
    ASSERT_TRUE(at_end && *at_end);
    EXPECT_TRUE((*at_end)->empty());

    auto beyond = read(std::to_string(std::stoll(bus->position()) + 10), 10);
    ASSERT_TRUE(beyond);
    EXPECT_FALSE(*beyond);
    auto malformed = read("not-an-id", 10);
    ASSERT_TRUE(malformed);
    EXPECT_FALSE(*malformed);

    // The first two trimmed: reading after either of them is no longer exact.
    EXPECT_EQ(
        query("DELETE FROM " + table("switchboard_log") + " WHERE id <= " + seen.entries[1].id),
        "");
    auto trimmed = read(seen.entries[0].id, 10);
    ASSERT_TRUE(trimmed);
    ASSERT_FALSE(*trimmed);
    EXPECT_EQ(trimmed->error_message(), "trimmed");
    auto trimmed_start = read("0-0", 10);
    ASSERT_TRUE(trimmed_start);
    EXPECT_FALSE(*trimmed_start);
    auto still = read(seen.entries[1].id, 10);
    ASSERT_TRUE(still && *still);
    EXPECT_EQ((*still)->size(), 3u);
}

TEST_F(log_backplane_test, records_put_get_expire_swap_and_erase) {
    auto a = make("a");
    auto b = make("b");
    recorder at_a;
    recorder at_b;
    ASSERT_TRUE(start(*a, at_a));
    ASSERT_TRUE(start(*b, at_b));
    using got = expected<std::optional<std::string>>;
    using swapped = expected<bool>;
    const auto get = [&](postgres::log_backplane& bus, const std::string& key) {
        return await<got>([&](auto done) { bus.get_record(key, std::move(done)); });
    };
    const auto swap = [&](postgres::log_backplane& bus, const std::string& key,
                          const std::string& expected, const std::string& desired,
                          std::chrono::milliseconds ttl = 60s) {
        return await<swapped>([&](auto done) {
            bus.compare_and_set_record(key, expected, desired, ttl, std::move(done));
        });
    };

    auto none = get(*a, "k");
    ASSERT_TRUE(none && *none);
    EXPECT_FALSE(**none);

    a->put_record("k", "v1", 60s);
    auto one = get(*b, "k");  // another session: the put went first on a's
    ASSERT_TRUE(run_until([&] {
        one = get(*b, "k");
        return one && *one && **one;
    }));
    EXPECT_EQ(***one, "v1");

    // Two instances race with the same expected value: exactly one wins.
    std::optional<swapped> first;
    std::optional<swapped> second;
    a->compare_and_set_record("k", "v1", "from a", 60s, [&](swapped s) { first.emplace(s); });
    b->compare_and_set_record("k", "v1", "from b", 60s, [&](swapped s) { second.emplace(s); });
    ASSERT_TRUE(run_until([&] { return first && second; }));
    ASSERT_TRUE(*first && *second);
    EXPECT_NE(**first, **second);
    auto now = get(*a, "k");
    ASSERT_TRUE(now && *now && **now);
    EXPECT_EQ(***now, **first ? "from a" : "from b");

    auto stale = swap(*a, "k", "v1", "late");
    ASSERT_TRUE(stale && *stale);
    EXPECT_FALSE(**stale);

    // A short time to live: gone after it, and no swap on an expired record.
    auto kept = swap(*a, "k", ***now, "brief", 300ms);
    ASSERT_TRUE(kept && *kept);
    EXPECT_TRUE(**kept);
    ASSERT_TRUE(run_until([&] {
        auto r = get(*a, "k");
        return r && *r && !**r;
    }));
    auto expired = swap(*a, "k", "brief", "revived");
    ASSERT_TRUE(expired && *expired);
    EXPECT_FALSE(**expired);

    b->put_record("gone", "soon", 60s);
    b->erase_record("gone");
    auto erased = get(*b, "gone");
    ASSERT_TRUE(erased && *erased);
    EXPECT_FALSE(**erased);
    auto missing = swap(*b, "gone", "soon", "x");
    ASSERT_TRUE(missing && *missing);
    EXPECT_FALSE(**missing);
}

}  // namespace
}  // namespace switchboard::routing
