// The durable_log specification every durable mode bus passes: instances of one bus on one
// shared backend, each on a control thread of its own. A bus's test file instantiates it with a
// factory type: INSTANTIATE_TYPED_TEST_SUITE_P(name, durable_log_conformance, factory_type).
//
// A factory provides:
//   using bus_type = ...;  // a backplane and a durable_log
//   static bool available();  // false skips (e.g. the server is not installed)
//   static constexpr log_capabilities capabilities{...};
//   void set_up();
//   std::unique_ptr<bus_type> make(boost::asio::io_context& control, const instance_options&);
//   void trim(std::size_t keep);  // capabilities.trim: drops all but the newest `keep` entries
//   void cut(bus_type& bus);      // capabilities.cut: the bus loses its link to the backend,
//   void backend_back();          // (once it noticed) the others reach the backend again,
//   void heal(bus_type& bus);     // and here (or its slow reconnect) the bus comes back
#pragma once

#include "backplane_conformance.hpp"
#include "routing/backplane.hpp"
#include "routing/durable_log.hpp"

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::routing::log_conformance {

using namespace std::chrono_literals;
using conformance::eventually;

// What a backend can express; a case it cannot is skipped, not left out.
struct log_capabilities {
    bool trim = true;            // the test can trim the log from outside
    bool cut = true;             // the test can cut one instance off and bring it back
    bool binary_records = true;  // record values of any bytes (PostgreSQL's are text)
    std::size_t cap_slack = 0;   // how far beyond max_entries the log may stay (Redis: a node)
};

struct instance_options {
    std::string name;
    std::size_t max_entries = 0;  // 0: no cap
    bool slow_reconnect = false;  // once cut, away for seconds: the test acts meanwhile
    std::size_t max_bytes = 0;    // 0: no byte bound
};

// Entries the suite publishes to make sure an instance reads; never counted.
inline constexpr const char* warmup_channel = "warmup";

struct seen_entry {
    std::string id;
    std::string origin;
    std::string channel;
    std::string payload;
    bool operator==(const seen_entry&) const = default;
};

// One instance: a control io_context on its own thread, the bus on it, and what its handler
// and observer heard (written on the control thread, read by the test).
template <class Bus>
class instance final : public backplane_handler, public log_observer {
public:
    template <class Factory>
    instance(Factory& factory, const instance_options& options) : name_(options.name) {
        bus_ = factory.make(context_, options);
        bus_->set_observer(this);
        thread_ = std::thread([this] { context_.run(); });
        on_control([this] { bus_->start(*this); });
    }
    ~instance() override {
        on_control([this] { bus_->stop(); });
        work_.reset();
        context_.stop();
        thread_.join();
    }
    instance(const instance&) = delete;
    instance& operator=(const instance&) = delete;

    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        std::lock_guard lock(mutex_);
        messages_.push_back({{}, {}, std::string(channel), *payload});
    }
    void on_log_entry(const log_entry& entry) override {
        std::lock_guard lock(mutex_);
        if (entry.channel == warmup_channel) {
            warmed_up_ = true;
            return;
        }
        entries_.push_back({entry.id, entry.origin, entry.channel, *entry.payload});
    }
    void on_log_gap() override { gaps_.fetch_add(1); }

    Bus& bus() { return *bus_; }
    const std::string& name() const { return name_; }
    std::vector<seen_entry> entries() const {
        std::lock_guard lock(mutex_);
        return entries_;
    }
    std::vector<seen_entry> messages() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    bool heard(const std::string& payload) const {
        std::lock_guard lock(mutex_);
        return std::any_of(messages_.begin(), messages_.end(),
                           [&](const seen_entry& m) { return m.payload == payload; });
    }
    int gaps() const { return gaps_.load(); }

    // Runs `f` on the control thread and returns its result.
    template <class F>
    auto on_control(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        boost::asio::post(context_, [&task] { task(); });
        return result.get();
    }
    bool connected() {
        return on_control([this] { return bus_->connected(); });
    }
    std::string position() {
        return on_control([this] { return bus_->position(); });
    }

    // Reading: a marker published until one comes back (a reader may take its starting point
    // after the first was written).
    bool wait_ready() {
        if (!eventually([&] { return connected(); })) {
            return false;
        }
        return eventually([&] {
            if (warmed_up()) {
                return true;
            }
            publish(warmup_channel, "marker");
            return eventually([&] { return warmed_up(); }, 300ms);
        });
    }
    void publish(const std::string& channel, const std::string& payload) {
        boost::asio::post(context_, [this, channel, payload] {
            bus_->publish(channel, make_shared_buffer(payload));
        });
    }
    bool subscribe(const std::string& channel) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        boost::asio::post(context_, [this, channel, done] {
            bus_->subscribe(channel);
            bus_->when_subscribed(channel, [done] { *done = true; });
        });
        return eventually([&] { return done->load(); });
    }
    void unsubscribe(const std::string& channel) {
        boost::asio::post(context_, [this, channel] { bus_->unsubscribe(channel); });
    }

    // The durable_log calls, answered on the control thread, awaited here with a deadline.
    std::optional<expected<std::vector<log_entry>>> read_after(const std::string& after,
                                                               std::size_t count) {
        return await<expected<std::vector<log_entry>>>(
            [=, this](auto done) { bus_->read_after(after, count, std::move(done)); });
    }
    std::optional<expected<std::optional<std::string>>> get(const std::string& key) {
        return await<expected<std::optional<std::string>>>(
            [=, this](auto done) { bus_->get_record(key, std::move(done)); });
    }
    void put(const std::string& key, const std::string& value, std::chrono::milliseconds ttl) {
        boost::asio::post(context_, [=, this] { bus_->put_record(key, value, ttl); });
    }
    void erase(const std::string& key) {
        boost::asio::post(context_, [=, this] { bus_->erase_record(key); });
    }
    // Started now, awaited later: racing claims start together.
    std::shared_future<expected<bool>> swap(const std::string& key, const std::string& from,
                                            const std::string& to,
                                            std::chrono::milliseconds ttl = 1min) {
        auto result = std::make_shared<std::promise<expected<bool>>>();
        std::shared_future<expected<bool>> future = result->get_future();
        boost::asio::post(context_, [=, this] {
            bus_->compare_and_set_record(key, from, to, ttl,
                                         [result](expected<bool> r) { result->set_value(r); });
        });
        return future;
    }

private:
    bool warmed_up() const {
        std::lock_guard lock(mutex_);
        return warmed_up_;
    }
    template <class T, class Call>
    std::optional<T> await(Call call) {
        auto result = std::make_shared<std::promise<T>>();
        auto future = result->get_future();
        boost::asio::post(context_, [result, call]() mutable {
            call([result](T value) { result->set_value(std::move(value)); });
        });
        if (future.wait_for(conformance::deadline) != std::future_status::ready) {
            return std::nullopt;
        }
        return future.get();
    }

    boost::asio::io_context context_;  // first: outlives the bus
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        context_.get_executor()};
    std::string name_;
    std::unique_ptr<Bus> bus_;
    mutable std::mutex mutex_;
    std::vector<seen_entry> entries_;
    std::vector<seen_entry> messages_;
    bool warmed_up_ = false;
    std::atomic<int> gaps_{0};
    std::thread thread_;
};

// "<prefix><n>", appended (a literal + a std::string trips GCC 12's -Wrestrict).
inline std::string numbered(const char* prefix, std::size_t n) {
    std::string out(prefix);
    out += std::to_string(n);
    return out;
}

inline std::vector<std::string> ids_of(const std::vector<seen_entry>& entries) {
    std::vector<std::string> ids;
    for (const auto& e : entries) {
        ids.push_back(e.id);
    }
    return ids;
}

// An id after `id` that no entry has yet ("<n>" and "<ms>-<seq>" ids alike).
inline std::string later_id(const std::string& id) {
    const auto digits = id.find_first_not_of("0123456789");
    const auto head = id.substr(0, digits);
    return std::to_string(std::stoull(head) + 1000) +
           (digits == std::string::npos ? "" : id.substr(digits));
}

// The entries a read returned, without the suite's warm-up markers.
inline std::vector<seen_entry> counted(const std::vector<log_entry>& entries) {
    std::vector<seen_entry> out;
    for (const auto& e : entries) {
        if (e.channel != warmup_channel) {
            out.push_back({e.id, e.origin, e.channel, *e.payload});
        }
    }
    return out;
}

template <class Factory>
class durable_log_conformance : public ::testing::Test {
protected:
    using bus_type = typename Factory::bus_type;
    using node = instance<bus_type>;
    static constexpr log_capabilities capabilities = Factory::capabilities;

    void SetUp() override {
        if (!Factory::available()) {
            GTEST_SKIP() << "the bus's server is not installed";
        }
        factory_.set_up();
    }
    void TearDown() override { nodes_.clear(); }

    // A reading instance; `name` is its origin in the log.
    node& start(const std::string& name, std::size_t max_entries = 0, bool slow_reconnect = false,
                std::size_t max_bytes = 0) {
        auto& n = *nodes_.emplace_back(std::make_unique<node>(
            factory_, instance_options{name, max_entries, slow_reconnect, max_bytes}));
        EXPECT_TRUE(n.wait_ready()) << name;
        return n;
    }

    // Cuts `cut` off the backend while `other` keeps it: true once `cut` is down and `other` up.
    [[nodiscard]] bool cut_off(node& cut, node& other) {
        factory_.cut(cut.bus());
        if (!eventually([&] { return !cut.connected(); })) {
            return false;
        }
        factory_.backend_back();
        return eventually([&] { return other.connected(); });
    }

    // Publishes `published` entries from `a` under a cap that keeps about `cap` of them: the
    // oldest go (on the backend's schedule), never the newest `keep`.
    void expect_capped(node& a, std::size_t published, std::size_t cap, std::size_t keep,
                       const std::function<std::string(std::size_t)>& payload) {
        // Read as it goes: the cap trims what no reader read too (a gap for a reader behind).
        for (std::size_t i = 0; i < published; ++i) {
            a.publish("c", payload(i));
            if (i % (cap / 2) == cap / 2 - 1) {
                ASSERT_TRUE(eventually([&] { return a.entries().size() == i + 1; }));
            }
        }
        ASSERT_TRUE(eventually([&] { return a.entries().size() == published; }));
        const auto seen = a.entries();
        const auto surely_gone = published - cap - capabilities.cap_slack - 2;
        EXPECT_TRUE(eventually([&] {
            auto r = a.read_after(seen[surely_gone].id, 1);
            return r && !*r;
        }));
        const auto oldest_kept = published - keep;
        auto kept = a.read_after(seen[oldest_kept - 1].id, published);
        ASSERT_TRUE(kept && *kept) << (kept ? kept->error_message() : "no answer");
        EXPECT_EQ(counted(**kept), std::vector<seen_entry>(
                                       seen.begin() + static_cast<long>(oldest_kept), seen.end()));
        EXPECT_EQ(a.gaps(), 0);
    }

    Factory factory_;
    std::vector<std::unique_ptr<node>> nodes_;
};

TYPED_TEST_SUITE_P(durable_log_conformance);

TYPED_TEST_P(durable_log_conformance, every_instance_observes_every_entry_in_one_order) {
    auto& a = this->start("a");
    auto& b = this->start("b");
    auto& c = this->start("c");
    ASSERT_TRUE(a.subscribe("chat"));
    ASSERT_TRUE(b.subscribe("chat"));
    constexpr std::size_t each = 30;
    for (std::size_t i = 0; i < each; ++i) {
        a.publish("chat", numbered("a", i));
        b.publish("chat", numbered("b", i));
        c.publish("quiet", numbered("c", i));  // nobody subscribed
    }
    ASSERT_TRUE(eventually([&] {
        return a.entries().size() == 3 * each && b.entries().size() == 3 * each &&
               c.entries().size() == 3 * each;
    })) << a.entries().size()
        << " " << b.entries().size() << " " << c.entries().size();
    const auto seen = a.entries();
    EXPECT_EQ(b.entries(), seen);
    EXPECT_EQ(c.entries(), seen);
    std::vector<std::size_t> next(3, 0);
    for (std::size_t i = 0; i < seen.size(); ++i) {
        if (i > 0) {
            EXPECT_LT(compare_log_ids(seen[i - 1].id, seen[i].id), 0) << seen[i].id;
        }
        // Each publisher's entries in its publish order, under its name and channel.
        const auto who = static_cast<std::size_t>(seen[i].origin[0] - 'a');
        ASSERT_LT(who, 3U) << seen[i].origin;
        EXPECT_EQ(seen[i].payload, numbered(seen[i].origin.c_str(), next[who]++));
        EXPECT_EQ(seen[i].channel, who == 2 ? "quiet" : "chat");
    }
    EXPECT_EQ(next, (std::vector<std::size_t>{each, each, each}));
    EXPECT_EQ(a.position(), seen.back().id);
    EXPECT_EQ(c.position(), seen.back().id);
    EXPECT_EQ(a.gaps() + b.gaps() + c.gaps(), 0);
}

TYPED_TEST_P(durable_log_conformance, the_handler_hears_subscribed_channels_only) {
    auto& a = this->start("a");
    auto& b = this->start("b");
    ASSERT_TRUE(a.subscribe("chat"));
    ASSERT_TRUE(a.subscribe("chat"));
    a.unsubscribe("chat");  // still one subscription left
    b.publish("news", "not subscribed");
    b.publish("chat", "subscribed");
    a.publish("chat", "own");  // the observer sees it, the handler does not
    ASSERT_TRUE(eventually([&] { return a.entries().size() == 3; }));
    ASSERT_TRUE(eventually([&] { return a.messages().size() == 1; }));
    EXPECT_EQ(a.messages()[0].channel, "chat");
    EXPECT_EQ(a.messages()[0].payload, "subscribed");

    a.unsubscribe("chat");
    ASSERT_TRUE(a.subscribe("news"));
    b.publish("chat", "after unsubscribe");
    b.publish("news", "now subscribed");
    ASSERT_TRUE(eventually([&] { return a.entries().size() == 5; }));
    ASSERT_TRUE(eventually([&] { return a.messages().size() == 2; }));
    EXPECT_EQ(a.messages()[1].payload, "now subscribed");
    EXPECT_TRUE(b.messages().empty());
}

TYPED_TEST_P(durable_log_conformance, channel_names_and_payloads_are_any_bytes) {
    auto& a = this->start("a");
    auto& b = this->start("b");
    const std::string channel("hub:grp\0. *>\r\n\xc3\xbc\xff\xfe:7", 20);
    const std::string payload("\0\x01 binary\r\n\x1e\xff", 13);
    ASSERT_TRUE(b.subscribe(channel));
    a.publish(channel, payload);
    ASSERT_TRUE(eventually([&] { return b.messages().size() == 1; }));
    EXPECT_EQ(b.messages()[0].channel, channel);
    EXPECT_EQ(b.messages()[0].payload, payload);
    ASSERT_TRUE(eventually([&] { return a.entries().size() == 1; }));
    const auto own = a.entries()[0];
    EXPECT_EQ(own.channel, channel);
    EXPECT_EQ(own.payload, payload);
    EXPECT_EQ(own.origin, "a");
    const auto read = a.read_after(a.position(), 1);  // and what read_after returns
    ASSERT_TRUE(read && *read);
    EXPECT_TRUE((*read)->empty());
}

TYPED_TEST_P(durable_log_conformance, read_after_is_exact_or_an_error) {
    auto& a = this->start("a");
    for (std::size_t i = 0; i < 6; ++i) {
        a.publish("chat", numbered("m", i));
    }
    ASSERT_TRUE(eventually([&] { return a.entries().size() == 6; }));
    const auto seen = a.entries();

    auto some = a.read_after(seen[1].id, 10);
    ASSERT_TRUE(some && *some) << (some ? some->error_message() : "no answer");
    EXPECT_EQ(counted(**some), std::vector<seen_entry>(seen.begin() + 2, seen.end()));
    auto two = a.read_after(seen[1].id, 2);
    ASSERT_TRUE(two && *two);
    EXPECT_EQ(counted(**two), std::vector<seen_entry>(seen.begin() + 2, seen.begin() + 4));
    auto none = a.read_after(seen[5].id, 10);
    ASSERT_TRUE(none && *none);
    EXPECT_TRUE((*none)->empty());
    auto all = a.read_after("0-0", 100);
    ASSERT_TRUE(all && *all);
    EXPECT_EQ(counted(**all), seen);
    // Not a position of this log: never an empty success a reader would take for exact.
    for (const auto& after : {later_id(seen[5].id), std::string("not-an-id")}) {
        auto wrong = a.read_after(after, 10);
        ASSERT_TRUE(wrong) << after;
        EXPECT_FALSE(*wrong) << after;
    }

    if (!TestFixture::capabilities.trim) {
        GTEST_SKIP() << "this backend's log cannot be trimmed from a test";
    }
    this->factory_.trim(3);
    // After a trimmed entry: not exact any more (Redis, whose ids have holes, says so after the
    // newest trimmed one too). After a kept one: still exact.
    auto trimmed = a.read_after(seen[1].id, 10);
    ASSERT_TRUE(trimmed);
    ASSERT_FALSE(*trimmed);
    EXPECT_EQ(trimmed->error_message(), "trimmed");
    // From the start is after a trimmed entry too.
    auto from_start = a.read_after("0-0", 10);
    ASSERT_TRUE(from_start);
    EXPECT_FALSE(*from_start);
    auto kept = a.read_after(seen[3].id, 10);
    ASSERT_TRUE(kept && *kept) << (kept ? kept->error_message() : "no answer");
    EXPECT_EQ(counted(**kept), std::vector<seen_entry>(seen.begin() + 4, seen.end()));
}

TYPED_TEST_P(durable_log_conformance, records_put_get_expire_swap_and_erase) {
    auto& a = this->start("a");
    auto& b = this->start("b");
    const auto get = [](auto& n, const std::string& key) {
        auto r = n.get(key);
        EXPECT_TRUE(r && *r) << (r ? r->error_message() : "no answer");
        return r && *r ? **r : std::optional<std::string>("<unavailable>");
    };
    EXPECT_EQ(get(a, "k"), std::nullopt);
    EXPECT_FALSE(a.swap("k", "", "x").get().value());  // an absent record matches nothing
    EXPECT_EQ(get(a, "k"), std::nullopt);

    const std::string v1 = TestFixture::capabilities.binary_records
                               ? std::string("v1\0\xff\r\n", 6)
                               : std::string("v1 \xc3\xbc {\"json\":1}");
    a.put("k", v1, 1min);
    EXPECT_TRUE(eventually([&] { return get(b, "k") == v1; }));
    EXPECT_EQ(get(a, "k"), v1);

    // Two instances race from the same value: exactly one wins.
    auto from_a = a.swap("k", v1, "claimed by a");
    auto from_b = b.swap("k", v1, "claimed by b");
    const auto won_a = from_a.get();
    const auto won_b = from_b.get();
    ASSERT_TRUE(won_a && won_b);
    EXPECT_NE(*won_a, *won_b);
    const std::string winner = *won_a ? "claimed by a" : "claimed by b";
    EXPECT_EQ(get(a, "k"), winner);
    EXPECT_EQ(get(b, "k"), winner);
    EXPECT_FALSE(b.swap("k", v1, "late").get().value());  // a stale expectation loses

    // A short time to live, set by a swap: gone after it, and nothing to swap from then.
    EXPECT_TRUE(a.swap("k", winner, "brief", 300ms).get().value());
    EXPECT_TRUE(eventually([&] { return !get(b, "k").has_value(); }));
    EXPECT_FALSE(a.swap("k", "brief", "revived").get().value());
    a.put("short", "lived", 300ms);
    EXPECT_TRUE(eventually([&] { return get(a, "short").has_value(); }));
    EXPECT_TRUE(eventually([&] { return !get(b, "short").has_value(); }));

    b.put("gone", "soon", 1min);
    b.erase("gone");
    EXPECT_EQ(get(b, "gone"), std::nullopt);
    EXPECT_TRUE(eventually([&] { return !get(a, "gone").has_value(); }));
    EXPECT_FALSE(b.swap("gone", "soon", "x").get().value());
}

TYPED_TEST_P(durable_log_conformance, an_instance_cut_off_catches_up_from_its_position) {
    if (!TestFixture::capabilities.cut) {
        GTEST_SKIP() << "this backend cannot cut one instance off from a test";
    }
    auto& a = this->start("a", 0, true);
    auto& b = this->start("b");
    ASSERT_TRUE(a.subscribe("chat"));
    ASSERT_TRUE(b.subscribe("chat"));
    b.publish("chat", "before");
    ASSERT_TRUE(eventually([&] { return a.heard("before"); }));

    ASSERT_TRUE(this->cut_off(a, b));
    std::vector<std::string> during;
    for (std::size_t i = 0; i < 50; ++i) {
        during.push_back(numbered("during", i));
        b.publish("chat", during.back());
    }
    a.publish("chat", "a0");  // waits in a's buffer if its writer is cut off too
    a.publish("chat", "a1");
    ASSERT_TRUE(eventually([&] { return b.entries().size() >= 51; }));
    EXPECT_FALSE(a.connected()) << "back before the others published: the case proves nothing";
    this->factory_.heal(a.bus());

    ASSERT_TRUE(eventually([&] { return a.messages().size() == 51; }, 30s)) << a.messages().size();
    std::vector<std::string> heard;
    for (const auto& m : a.messages()) {
        heard.push_back(m.payload);
    }
    during.insert(during.begin(), "before");
    EXPECT_EQ(heard, during);
    ASSERT_TRUE(eventually([&] { return b.heard("a0") && b.heard("a1"); }));
    EXPECT_EQ(b.messages().back().payload, "a1");
    ASSERT_TRUE(eventually([&] { return a.entries().size() == 53; }));
    EXPECT_EQ(a.entries(), b.entries());
    EXPECT_EQ(a.gaps() + b.gaps(), 0);
}

TYPED_TEST_P(durable_log_conformance, entries_trimmed_past_a_readers_position_are_a_gap) {
    if (!TestFixture::capabilities.trim || !TestFixture::capabilities.cut) {
        GTEST_SKIP() << "this backend cannot trim past a reader from a test";
    }
    auto& a = this->start("a", 0, true);
    auto& b = this->start("b");
    ASSERT_TRUE(a.subscribe("chat"));
    b.publish("chat", "before");
    ASSERT_TRUE(eventually([&] { return a.heard("before"); }));

    ASSERT_TRUE(this->cut_off(a, b));
    for (std::size_t i = 0; i < 10; ++i) {
        b.publish("chat", numbered("lost", i));
    }
    ASSERT_TRUE(eventually([&] { return b.entries().size() == 11; }));
    this->factory_.trim(1);
    this->factory_.heal(a.bus());
    ASSERT_TRUE(eventually([&] { return a.gaps() == 1; }, 30s));
    // On from the log's end: the entry still there is skipped, the next one arrives.
    EXPECT_EQ(a.position(), b.entries().back().id);
    b.publish("chat", "after the gap");
    ASSERT_TRUE(eventually([&] { return a.heard("after the gap"); }));
    for (const auto& m : a.messages()) {
        EXPECT_FALSE(m.payload.starts_with("lost")) << m.payload;
    }
    EXPECT_EQ(a.gaps(), 1);
    EXPECT_EQ(b.gaps(), 0);
}

TYPED_TEST_P(durable_log_conformance, trimming_what_every_reader_read_is_no_gap) {
    if (!TestFixture::capabilities.trim) {
        GTEST_SKIP() << "this backend's log cannot be trimmed from a test";
    }
    auto& a = this->start("a");
    auto& b = this->start("b");
    ASSERT_TRUE(a.subscribe("chat"));
    b.publish("chat", "read");
    ASSERT_TRUE(eventually([&] { return a.heard("read"); }));
    this->factory_.trim(0);
    for (std::size_t i = 0; i < 3; ++i) {
        b.publish("chat", numbered("next", i));
        ASSERT_TRUE(eventually([&] { return a.heard(numbered("next", i)); }));
    }
    EXPECT_EQ(a.gaps() + b.gaps(), 0);
}

TYPED_TEST_P(durable_log_conformance, max_entries_caps_the_log) {
    constexpr std::size_t cap = 10;
    // Enough that the oldest go even where the cap is approximate.
    constexpr std::size_t published = 3 * (cap + TestFixture::capabilities.cap_slack);
    auto& a = this->start("a", cap);
    this->expect_capped(a, published, cap, cap, [](std::size_t i) { return numbered("m", i); });
}

TYPED_TEST_P(durable_log_conformance, max_bytes_caps_the_log) {
    // About `fit` entries of `size` bytes fit: backends count what they store (a subject, a
    // channel), so only the newest half of them surely stay.
    constexpr std::size_t size = 1000;
    constexpr std::size_t fit = 20;
    constexpr std::size_t published = 3 * (fit + TestFixture::capabilities.cap_slack);
    auto& a = this->start("a", 0, false, fit * size);
    const std::string filler(size - 16, 'x');
    this->expect_capped(a, published, fit, fit / 2,
                        [&](std::size_t i) { return numbered("m", i) + filler; });
}

REGISTER_TYPED_TEST_SUITE_P(durable_log_conformance,
                            every_instance_observes_every_entry_in_one_order,
                            the_handler_hears_subscribed_channels_only,
                            channel_names_and_payloads_are_any_bytes,
                            read_after_is_exact_or_an_error, records_put_get_expire_swap_and_erase,
                            an_instance_cut_off_catches_up_from_its_position,
                            entries_trimmed_past_a_readers_position_are_a_gap,
                            trimming_what_every_reader_read_is_no_gap, max_entries_caps_the_log,
                            max_bytes_caps_the_log);

}  // namespace switchboard::routing::log_conformance
