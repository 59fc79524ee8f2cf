// Durable mode's sessions over an in-process log shared by two instances: the numbering one
// instance gives a stateful connection's messages is the numbering a takeover reproduces.
#include "routing/durable/sessions.hpp"

#include "../../support/shard_helpers.hpp"
#include "../backplane_conformance.hpp"
#include "routing/scaleout/messages.hpp"

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>

#include <map>
#include <mutex>

namespace switchboard::routing::durable {
namespace {

using conformance::eventually;

// The cluster's log and records, shared by every instance's fake bus; touched on shard 0 only.
struct shared_log {
    std::vector<log_entry> entries;
    std::map<std::string, std::string> records;
    std::string trimmed_through = "0-0";  // entries up to this id are gone
};

// One instance's view: its publications append to the log, every entry reaches its observer
// (posted, in log order), reads and records answer asynchronously as Redis would.
class fake_log final : public backplane, public durable_log {
public:
    fake_log(boost::asio::io_context& context, shared_log& log, std::string origin)
        : context_(context), log_(log), origin_(std::move(origin)) {}

    void start(backplane_handler&) override {}
    void stop() override {}
    void subscribe(const std::string&) override {}
    void unsubscribe(const std::string&) override {}
    void publish(const std::string& channel, shared_buffer payload) override {
        boost::asio::post(context_, [this, channel, payload] {
            log_.entries.push_back(
                {"1-" + std::to_string(log_.entries.size() + 1), origin_, channel, payload});
            for (auto* member : members()) {
                member->pump();
            }
        });
    }
    [[nodiscard]] bool connected() const override { return true; }

    void set_observer(log_observer* observer) override { observer_ = observer; }
    [[nodiscard]] const std::string& position() const override { return position_; }
    [[nodiscard]] std::chrono::milliseconds window() const override {
        return std::chrono::seconds(30);
    }
    void read_after(const std::string& after, std::size_t count, read_handler done) override {
        ++reads_;
        last_read_count_ = count;
        boost::asio::post(context_, [this, after, count, done = std::move(done)] {
            if (compare_log_ids(after, log_.trimmed_through) < 0) {
                return done(make_error("trimmed"));
            }
            std::vector<log_entry> out;
            for (const auto& entry : log_.entries) {
                if (compare_log_ids(entry.id, after) > 0 && out.size() < count) {
                    out.push_back(entry);
                }
            }
            done(std::move(out));
        });
    }
    void put_record(const std::string& key, std::string value, std::chrono::milliseconds) override {
        log_.records[key] = std::move(value);
    }
    void get_record(const std::string& key, get_handler done) override {
        boost::asio::post(context_, [this, key, done = std::move(done)] {
            const auto it = log_.records.find(key);
            done(it == log_.records.end() ? std::optional<std::string>()
                                          : std::optional<std::string>(it->second));
        });
    }
    void compare_and_set_record(const std::string& key, std::string expected, std::string desired,
                                std::chrono::milliseconds, swap_handler done) override {
        boost::asio::post(context_, [this, key, expected, desired, done = std::move(done)] {
            const auto it = log_.records.find(key);
            const bool matches = it != log_.records.end() && it->second == expected;
            if (matches) {
                it->second = desired;
            }
            done(matches);
        });
    }
    void erase_record(const std::string& key) override { log_.records.erase(key); }
    // read_after() calls so far.
    std::atomic<std::size_t> reads_{0};
    std::atomic<std::size_t> last_read_count_{0};  // entries the last read asked for
    bool lagging_ = false;

    static std::vector<fake_log*>& members() {
        static std::vector<fake_log*> all;
        return all;
    }
    // The reader found entries gone it had not read.
    void gap() {
        boost::asio::post(context_, [this] { observer_->on_log_gap(); });
    }
    // Hands the observer every entry it has not seen, unless it lags (a slow or cut reader).
    void pump() {
        while (observer_ != nullptr && !lagging_ && next_ < log_.entries.size()) {
            const auto entry = log_.entries[next_++];
            position_ = entry.id;
            observer_->on_log_entry(entry);
        }
    }

private:
    boost::asio::io_context& context_;
    shared_log& log_;
    std::string origin_;
    log_observer* observer_ = nullptr;
    std::string position_ = "0-0";
    std::size_t next_ = 0;
};

class recorder final : public logged_recipient {
public:
    void deliver_logged(std::int64_t sequence, const shared_buffer& frame) override {
        std::lock_guard lock(mutex_);
        frames_.emplace_back(sequence, *frame);
    }
    void on_caught_up(std::vector<std::string> groups) override {
        std::lock_guard lock(mutex_);
        groups_ = std::move(groups);
        caught_up_ = true;
    }
    void on_moved() override { moved_ = true; }
    void on_state_lost() override { lost_ = true; }

    std::vector<std::pair<std::int64_t, std::string>> frames() const {
        std::lock_guard lock(mutex_);
        return frames_;
    }
    std::vector<std::string> groups() const {
        std::lock_guard lock(mutex_);
        return groups_;
    }
    std::atomic<bool> caught_up_{false};
    std::atomic<bool> moved_{false};
    std::atomic<bool> lost_{false};

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::int64_t, std::string>> frames_;
    std::vector<std::string> groups_;
};

// A connection whose send queue is full until the test says it has room: it holds the
// catch-up's request for more and answers it with the budget the test gives.
class paced_recorder final : public logged_recipient {
public:
    void deliver_logged(std::int64_t sequence, const shared_buffer& frame) override {
        std::lock_guard lock(mutex_);
        frames_.emplace_back(sequence, *frame);
    }
    void on_caught_up(std::vector<std::string>) override { caught_up_ = true; }
    void on_moved() override {}
    void on_state_lost() override { lost_ = true; }
    void when_ready_for_more(std::function<void(std::size_t)> then) override {
        std::lock_guard lock(mutex_);
        EXPECT_FALSE(waiting_) << "at most one request for more at a time";
        waiting_ = std::move(then);
    }

    [[nodiscard]] bool waiting() const {
        std::lock_guard lock(mutex_);
        return static_cast<bool>(waiting_);
    }
    // Room again (called on the recipient's shard, as a connection's writer would).
    void make_room(std::size_t budget) {
        std::function<void(std::size_t)> then;
        {
            std::lock_guard lock(mutex_);
            then = std::exchange(waiting_, nullptr);
        }
        ASSERT_TRUE(then);
        then(budget);
    }
    std::vector<std::pair<std::int64_t, std::string>> frames() const {
        std::lock_guard lock(mutex_);
        return frames_;
    }
    std::atomic<bool> caught_up_{false};
    std::atomic<bool> lost_{false};

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::int64_t, std::string>> frames_;
    std::function<void(std::size_t)> waiting_;
};

std::string invocation(const std::string& text, std::vector<std::string> excluded = {}) {
    scaleout::invocation message;
    message.excluded_connection_ids = std::move(excluded);
    message.payloads.push_back(
        {std::string(scaleout::json_protocol_name), make_shared_buffer(text)});
    return scaleout::encode_invocation(message);
}

class sessions_test : public ::testing::Test {
protected:
    sessions_test() {
        fake_log::members() = {&bus_a_, &bus_b_};
        pool_.start();
        EXPECT_TRUE(test::run_on(pool_, 0, [this] {
            a_.start();
            b_.start();
        }));
    }
    ~sessions_test() override {
        pool_.stop_and_join();
        fake_log::members().clear();
    }
    void publish(fake_log& bus, const std::string& channel, std::string payload) {
        bus.publish(channel, make_shared_buffer(std::move(payload)));
    }
    static std::vector<std::string> texts(
        const std::vector<std::pair<std::int64_t, std::string>>& frames) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < frames.size(); ++i) {
            EXPECT_EQ(frames[i].first, static_cast<std::int64_t>(i + 1));
            out.push_back(frames[i].second);
        }
        return out;
    }

    shard_pool pool_{1};
    shared_log log_;
    fake_log bus_a_{pool_.context(0), log_, "A"};
    fake_log bus_b_{pool_.context(0), log_, "B"};
    scaleout::channels chat_{"", "chat"};
    sessions a_{pool_, bus_a_, bus_a_, {chat_}, {"A", "", std::chrono::milliseconds(0)}};
    sessions b_{pool_, bus_b_, bus_b_, {chat_}, {"B", "", std::chrono::milliseconds(0)}};
};

TEST_F(sessions_test, a_takeover_numbers_every_message_as_the_first_instance_did) {
    auto on_a = std::make_shared<recorder>();
    a_.add(0, "c1", "token-1", "alice", protocol::wire_protocol::json, on_a, 0);
    publish(bus_a_, chat_.all(), invocation("m1"));
    a_.group_changed(0, "c1", "g1", true);
    publish(bus_b_, chat_.group("g1"), invocation("m2"));
    publish(bus_b_, chat_.group("g2"), invocation("not for c1"));
    publish(bus_b_, chat_.user("bob"), invocation("not for c1"));
    publish(bus_b_, chat_.user("alice"), invocation("m3"));
    publish(bus_b_, chat_.all(), invocation("excluded", {"c1"}));
    a_.publish_frame(0, "c1", protocol::wire_protocol::json, make_shared_buffer(std::string("m4")));
    ASSERT_TRUE(eventually([&] { return on_a->frames().size() == 4; }));
    EXPECT_EQ(texts(on_a->frames()), (std::vector<std::string>{"m1", "m2", "m3", "m4"}));

    // A's client goes away; the cluster goes on.
    publish(bus_b_, chat_.all(), invocation("m5"));

    std::optional<claim_outcome> refused;
    b_.claim(0, "token-1", "mallory", [&](claim_outcome outcome) { refused = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && refused.has_value(); }));
    EXPECT_FALSE(refused->claimed);
    EXPECT_EQ(refused->failure, claim_failure::forbidden);

    std::optional<claim_outcome> unknown;
    b_.claim(0, "forged", "alice", [&](claim_outcome outcome) { unknown = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && unknown.has_value(); }));
    EXPECT_EQ(unknown->failure, claim_failure::unknown);

    std::optional<claim_outcome> won;
    b_.claim(0, "token-1", "alice", [&](claim_outcome outcome) { won = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && won.has_value(); }));
    ASSERT_TRUE(won->claimed);
    EXPECT_EQ(won->claimed->record.connection_id, "c1");
    EXPECT_EQ(won->claimed->record.epoch, 1U);
    // The old owner lets go when it reads the claim's marker.
    ASSERT_TRUE(eventually([&] { return on_a->moved_.load(); }));

    auto on_b = std::make_shared<recorder>();
    b_.attach(0, *won->claimed, on_b, 0);
    ASSERT_TRUE(eventually([&] { return on_b->caught_up_.load(); }));
    EXPECT_EQ(texts(on_b->frames()), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"}));
    EXPECT_EQ(on_b->groups(), (std::vector<std::string>{"g1"}));

    publish(bus_a_, chat_.group("g1"), invocation("m6"));
    ASSERT_TRUE(eventually([&] { return on_b->frames().size() == 6; }));
    EXPECT_EQ(on_b->frames().back(), (std::pair<std::int64_t, std::string>{6, "m6"}));
    // A, still reading until the claim, numbered m5 as B did, and nothing after it.
    EXPECT_EQ(texts(on_a->frames()), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"}));

    // Single use: a second claim of a connection held here fails.
    std::optional<claim_outcome> again;
    b_.claim(0, "token-1", "alice", [&](claim_outcome outcome) { again = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && again.has_value(); }));
    EXPECT_FALSE(again->claimed);
}

TEST_F(sessions_test, a_paused_connection_resumes_only_while_its_record_is_still_ours) {
    const auto confirmed = [&](const std::string& id) {
        std::optional<bool> answer;
        a_.confirm(id, [&](bool resumable) { answer = resumable; });
        EXPECT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && answer; }));
        return answer.value_or(true);
    };
    auto kept = std::make_shared<recorder>();
    auto taken = std::make_shared<recorder>();
    auto erased = std::make_shared<recorder>();
    a_.add(0, "kept", "token-kept", "alice", protocol::wire_protocol::json, kept, 0);
    a_.add(0, "taken", "token-taken", "alice", protocol::wire_protocol::json, taken, 0);
    a_.add(0, "erased", "token-erased", "alice", protocol::wire_protocol::json, erased, 0);
    EXPECT_TRUE(confirmed("kept"));

    // B takes one over while A has not read the takeover's marker yet.
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { bus_a_.lagging_ = true; }));
    std::optional<claim_outcome> won;
    b_.claim(0, "token-taken", "alice", [&](claim_outcome outcome) { won = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && won.has_value(); }));
    ASSERT_TRUE(won->claimed);
    EXPECT_FALSE(confirmed("taken"));
    EXPECT_TRUE(eventually([&] { return taken->moved_.load(); }));

    // Redis lost one record: the connection cannot resume anywhere, and hears so.
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { log_.records.erase(record_key("token-erased")); }));
    EXPECT_FALSE(confirmed("erased"));
    EXPECT_TRUE(eventually([&] { return erased->lost_.load(); }));

    EXPECT_TRUE(confirmed("kept"));
    EXPECT_FALSE(kept->moved_ || kept->lost_);
}

TEST_F(sessions_test, an_ended_connection_cannot_be_claimed) {
    auto on_a = std::make_shared<recorder>();
    a_.add(0, "c2", "token-2", "", protocol::wire_protocol::json, on_a, 0);
    a_.remove("c2", true);
    std::optional<claim_outcome> outcome;
    b_.claim(0, "token-2", "", [&](claim_outcome result) { outcome = std::move(result); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && outcome.has_value(); }));
    EXPECT_FALSE(outcome->claimed);
    EXPECT_EQ(outcome->failure, claim_failure::unknown);
}

TEST_F(sessions_test, a_log_gap_erases_the_record_before_the_connection_is_told) {
    auto on_a = std::make_shared<recorder>();
    a_.add(0, "c4", "token-4", "", protocol::wire_protocol::json, on_a, 0);
    std::optional<claim_outcome> outcome;
    ASSERT_TRUE(test::run_on(pool_, 0, [&] {
        a_.on_log_gap();
        // The client's resume right after the Close finds nothing to take over.
        b_.claim(0, "token-4", "", [&](claim_outcome result) { outcome = std::move(result); });
    }));
    ASSERT_TRUE(eventually([&] { return on_a->lost_.load(); }));
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && outcome.has_value(); }));
    EXPECT_FALSE(outcome->claimed);
    EXPECT_EQ(outcome->failure, claim_failure::unknown);
}

TEST_F(sessions_test, a_takeover_starts_from_the_last_checkpoint_the_client_acked) {
    sessions checkpointing{
        pool_, bus_a_, bus_a_, {chat_}, {"A", "", std::chrono::milliseconds(10)}};
    fake_log::members() = {&bus_a_, &bus_b_};
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { checkpointing.start(); }));
    auto on_a = std::make_shared<recorder>();
    checkpointing.add(0, "c3", "token-3", "carol", protocol::wire_protocol::json, on_a, 0);
    for (const auto* text : {"m1", "m2", "m3"}) {
        publish(bus_b_, chat_.all(), invocation(text));
    }
    ASSERT_TRUE(eventually([&] { return on_a->frames().size() == 3; }));
    checkpointing.on_ack("c3", 2);
    // A checkpoint at 3 messages waits for the client's ack of all three.
    const auto key = record_key("token-3");
    const auto sequence_in_record = [&] {
        std::int64_t sequence = -1;
        EXPECT_TRUE(test::run_on(pool_, 0, [&] {
            if (const auto record = decode_record(log_.records[key])) {
                sequence = record->sequence;
            }
        }));
        return sequence;
    };
    ASSERT_TRUE(eventually([&] {
        checkpointing.on_ack("c3", 3);
        return sequence_in_record() == 3;
    }));
    publish(bus_b_, chat_.all(), invocation("m4"));
    ASSERT_TRUE(eventually([&] { return on_a->frames().size() == 4; }));

    std::optional<claim_outcome> won;
    b_.claim(0, "token-3", "carol", [&](claim_outcome outcome) { won = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && won.has_value(); }));
    ASSERT_TRUE(won->claimed);
    EXPECT_EQ(won->claimed->record.sequence, 3);
    auto on_b = std::make_shared<recorder>();
    b_.attach(0, *won->claimed, on_b, 0);
    ASSERT_TRUE(eventually([&] { return on_b->caught_up_.load(); }));
    EXPECT_EQ(on_b->frames(), (std::vector<std::pair<std::int64_t, std::string>>{{4, "m4"}}));
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { checkpointing.stop(); }));
}

TEST_F(sessions_test, a_takeover_from_a_trimmed_checkpoint_is_refused_as_lost) {
    publish(bus_b_, chat_.all(), invocation("before"));
    ASSERT_TRUE(eventually([&] {
        std::string position;
        EXPECT_TRUE(test::run_on(pool_, 0, [&] { position = bus_a_.position(); }));
        return position == "1-1";
    }));
    auto on_a = std::make_shared<recorder>();
    a_.add(0, "c5", "token-5", "dave", protocol::wire_protocol::json, on_a, 0);
    publish(bus_b_, chat_.all(), invocation("m1"));
    publish(bus_b_, chat_.all(), invocation("m2"));
    ASSERT_TRUE(eventually([&] { return on_a->frames().size() == 2; }));
    // The checkpoint (after "before") is past the log's head: m1 went.
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { log_.trimmed_through = "1-2"; }));

    std::optional<claim_outcome> won;
    b_.claim(0, "token-5", "dave", [&](claim_outcome outcome) { won = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && won.has_value(); }));
    // Refused before any socket is accepted (404: the client starts over), not accepted and
    // closed by the first catch-up read.
    ASSERT_FALSE(won->claimed);
    EXPECT_EQ(won->failure, claim_failure::lost);
    // Nothing left to resume from, here or anywhere.
    bool erased = false;
    ASSERT_TRUE(eventually([&] {
        EXPECT_TRUE(test::run_on(pool_, 0, [&] {
            erased = !log_.records.contains(record_key("token-5")) && b_.size() == 0;
        }));
        return erased;
    }));
}

TEST_F(sessions_test, a_gap_in_the_log_tells_every_live_stateful_connection_its_state_is_lost) {
    auto first = std::make_shared<recorder>();
    auto second = std::make_shared<recorder>();
    a_.add(0, "c6", "token-6", "", protocol::wire_protocol::json, first, 0);
    a_.add(0, "c7", "token-7", "", protocol::wire_protocol::json, second, 0);
    auto elsewhere = std::make_shared<recorder>();
    b_.add(0, "c8", "token-8", "", protocol::wire_protocol::json, elsewhere, 0);
    publish(bus_b_, chat_.all(), invocation("m1"));
    ASSERT_TRUE(eventually([&] { return first->frames().size() == 1; }));

    bus_a_.gap();
    ASSERT_TRUE(eventually([&] { return first->lost_.load() && second->lost_.load(); }));
    EXPECT_FALSE(elsewhere->lost_.load());  // another instance's reader lost nothing
    // They get nothing more; a connection made after the gap is numbered as usual.
    auto after = std::make_shared<recorder>();
    a_.add(0, "c9", "token-9", "", protocol::wire_protocol::json, after, 0);
    publish(bus_b_, chat_.all(), invocation("m2"));
    ASSERT_TRUE(eventually([&] { return after->frames().size() == 1; }));
    EXPECT_EQ(texts(after->frames()), (std::vector<std::string>{"m2"}));
    EXPECT_EQ(texts(first->frames()), (std::vector<std::string>{"m1"}));
    EXPECT_EQ(texts(second->frames()), (std::vector<std::string>{"m1"}));
    ASSERT_TRUE(eventually([&] { return elsewhere->frames().size() == 2; }));
    std::size_t held = 0;
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { held = a_.size(); }));
    EXPECT_EQ(held, 1U);
}

TEST_F(sessions_test, a_catch_up_reads_on_only_when_the_connection_has_room) {
    auto on_a = std::make_shared<recorder>();
    a_.add(0, "c10", "token-10", "erin", protocol::wire_protocol::json, on_a, 0);
    std::vector<std::string> sent;
    for (int i = 1; i <= 10; ++i) {
        sent.push_back("p" + std::to_string(100 + i));  // 4 bytes each
        publish(bus_b_, chat_.user("erin"), invocation(sent.back()));
    }
    ASSERT_TRUE(eventually([&] { return on_a->frames().size() == sent.size(); }));

    std::optional<claim_outcome> won;
    b_.claim(0, "token-10", "erin", [&](claim_outcome outcome) { won = std::move(outcome); });
    ASSERT_TRUE(eventually([&] { return test::run_on(pool_, 0, [&] {}) && won.has_value(); }));
    ASSERT_TRUE(won->claimed);
    auto on_b = std::make_shared<paced_recorder>();
    const auto reads_before = bus_b_.reads_.load();
    b_.attach(0, *won->claimed, on_b, 0);

    // Room for three messages a time (the third passes the budget, which ends the batch); each
    // request for more is answered only after the test checked that nothing moves meanwhile.
    std::size_t rounds = 0;
    std::size_t previous = 0;
    while (rounds < 20) {
        ASSERT_TRUE(eventually([&] { return on_b->waiting() || on_b->caught_up_.load(); }));
        ASSERT_TRUE(test::drain(pool_));
        const auto delivered = on_b->frames().size();
        EXPECT_LE(delivered, previous + 3) << "a batch past its byte budget";
        previous = delivered;
        if (on_b->caught_up_.load()) {
            break;
        }
        const auto reads = bus_b_.reads_.load();
        ASSERT_TRUE(test::drain(pool_));
        EXPECT_EQ(bus_b_.reads_.load(), reads) << "read on while the queue is full";
        EXPECT_EQ(on_b->frames().size(), delivered);
        EXPECT_EQ(reads, reads_before + rounds) << "one read per request for more";
        if (rounds > 1) {
            // The first read's batch was cut after three entries: later reads ask for few, not
            // the whole 512 again.
            EXPECT_LE(bus_b_.last_read_count_.load(), 16U);
        }
        ASSERT_TRUE(test::run_on(pool_, 0, [&] { on_b->make_room(3 * 4 - 1); }));
        ++rounds;
    }
    ASSERT_TRUE(on_b->caught_up_.load());
    EXPECT_EQ(rounds, 4U);                   // 3 + 3 + 3 + 1 messages
    EXPECT_EQ(texts(on_b->frames()), sent);  // every message once, in order, numbered 1..10
    EXPECT_FALSE(on_b->lost_.load());
}

TEST(session_record_test, round_trips_and_rejects_garbage) {
    session_record record{"c", "hub", "u", protocol::wire_protocol::messagepack, {"a", "b"}, "12-3",
                          7,   2,     "A"};
    const auto decoded = decode_record(encode_record(record));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, record);
    EXPECT_FALSE(decode_record("{}"));
    EXPECT_FALSE(decode_record("not json"));
    EXPECT_EQ(record_key("token").size(), 64U);
    EXPECT_NE(record_key("token"), record_key("token2"));
}

TEST(log_id_test, orders_numerically) {
    EXPECT_LT(compare_log_ids("9-0", "10-0"), 0);
    EXPECT_LT(compare_log_ids("10-2", "10-10"), 0);
    EXPECT_EQ(compare_log_ids("10", "10-0"), 0);
    EXPECT_GT(compare_log_ids("11-0", "10-99"), 0);
    EXPECT_LT(compare_log_ids("garbage", "0-0"), 0);
}

}  // namespace
}  // namespace switchboard::routing::durable
