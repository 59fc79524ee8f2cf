#include "events/registry.hpp"

#include "../support/shard_helpers.hpp"
#include "events/event_format.hpp"
#include "events/statelesse.hpp"
#include "routing/memory/memory_backplane.hpp"
#include "routing/router.hpp"

#include <gtest/gtest.h>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::events {
namespace {

using test::drain;
using test::run_on;
using strings = std::vector<std::string>;

// Records what the registry delivered; touched on its shard only.
class fake_subscriber final : public subscriber {
public:
    void deliver(const shared_buffer& sse) override { received.push_back(*sse); }
    strings received;
};

// One instance: shards, a member of the memory bus, the router that hands event channels
// over, and the registry.
struct node {
    node(const std::shared_ptr<routing::memory_bus>& bus, events_options options,
         history_store* shared_history = nullptr)
        : backplane(bus, pool.context(0).get_executor()),
          events(pool, backplane, "app:", std::move(options), &counters, shared_history) {
        router.add_channel_listener(events.bus_prefix(), events);
        router.add_channel_listener(events.all_channel(), events);
        if (!events.statelesse_channel().empty()) {
            router.add_channel_listener(events.statelesse_channel(), events);
        }
        pool.start();
        EXPECT_TRUE(run_on(pool, 0, [this] {
            events.start();
            router.start();
        }));
    }
    ~node() {
        pool.stop_and_join();
        router.stop();
    }
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    void subscribe(std::size_t shard, fake_subscriber& target, strings channels,
                   std::optional<event_id> from = std::nullopt) {
        ASSERT_TRUE(run_on(pool, shard, [&] { events.subscribe(target, channels, from); }));
        ASSERT_TRUE(drain(pool));
    }
    void unsubscribe(std::size_t shard, fake_subscriber& target, strings channels) {
        ASSERT_TRUE(run_on(pool, shard, [&] { events.unsubscribe(target, channels); }));
        ASSERT_TRUE(drain(pool));
    }
    event_id publish(const std::string& channel, const std::string& type, std::string data) {
        std::promise<event_id> id;
        auto future = id.get_future();
        events.publish(channel, type, std::move(data), [&id](event_id got) { id.set_value(got); });
        EXPECT_EQ(future.wait_for(test::shard_deadline), std::future_status::ready);
        EXPECT_TRUE(drain(pool));
        return future.get();
    }
    // What `target` (on `shard`) received so far.
    strings received(std::size_t shard, fake_subscriber& target) {
        strings copy;
        EXPECT_TRUE(run_on(pool, shard, [&] { copy = target.received; }));
        return copy;
    }

    shard_pool pool{2};
    routing::memory_backplane backplane;
    routing::router router{pool, backplane};
    switchboard::metrics counters;
    registry events;
};

std::string sse(event_id id, const std::string& type, const std::string& channel,
                const std::string& data) {
    return format_sse_event(id, type, channel, data);
}

// Polls `done` until it holds or the deadline passes (deliveries over the bus are posted).
template <class F>
bool eventually(F done) {
    const auto deadline = std::chrono::steady_clock::now() + test::shard_deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

class registry_test : public ::testing::Test {
protected:
    std::shared_ptr<routing::memory_bus> bus_ = std::make_shared<routing::memory_bus>();
};

TEST_F(registry_test, delivers_to_subscribers_on_every_shard) {
    node a(bus_, {});
    fake_subscriber s0, s1, other;
    a.subscribe(0, s0, {"game:1"});
    a.subscribe(1, s1, {"game:1", "game:2"});
    a.subscribe(1, other, {"game:3"});
    const auto id = a.publish("game:1", "Joined", R"({"p":"ann"})");
    const auto expected = sse(id, "Joined", "game:1", R"({"p":"ann"})");
    EXPECT_EQ(a.received(0, s0), strings{expected});
    EXPECT_EQ(a.received(1, s1), strings{expected});
    EXPECT_TRUE(a.received(1, other).empty());
    EXPECT_EQ(a.counters.events_delivered.value(), 2U);

    a.unsubscribe(1, s1, {"game:1", "game:2"});
    a.publish("game:1", "Left", "null");
    EXPECT_EQ(a.received(0, s0).size(), 2U);
    EXPECT_EQ(a.received(1, s1).size(), 1U);
}

TEST_F(registry_test, ids_increase_per_channel) {
    node a(bus_, {});
    event_id last{};
    for (int i = 0; i < 50; ++i) {
        const auto id = a.publish("c", "T", std::to_string(i));
        EXPECT_GT(id, last);
        last = id;
    }
}

TEST_F(registry_test, resumes_from_history_then_live_without_gap_or_duplicate) {
    node a(bus_, {});
    fake_subscriber first, resumed;
    a.subscribe(1, first, {"c"});
    const auto id1 = a.publish("c", "T", "1");
    const auto id2 = a.publish("c", "T", "2");
    const auto id3 = a.publish("c", "T", "3");
    a.subscribe(0, resumed, {"c"}, id1);
    const auto id4 = a.publish("c", "T", "4");
    EXPECT_EQ(a.received(0, resumed),
              (strings{sse(id2, "T", "c", "2"), sse(id3, "T", "c", "3"), sse(id4, "T", "c", "4")}));
    EXPECT_EQ(a.counters.events_resumed.value(), 1U);
    EXPECT_EQ(a.counters.events_reset.value(), 0U);
}

TEST_F(registry_test, resets_when_history_does_not_reach_back) {
    events_options options;
    options.history = 2;
    node a(bus_, options);
    fake_subscriber keeper, late, ancient;
    a.subscribe(0, keeper, {"c"});
    const auto id1 = a.publish("c", "T", "1");
    const auto id2 = a.publish("c", "T", "2");
    const auto id3 = a.publish("c", "T", "3");
    const auto id4 = a.publish("c", "T", "4");  // 1 and 2 are trimmed
    // The history still reaches back to id2: everything after it is there.
    fake_subscriber exact;
    a.subscribe(0, exact, {"c"}, id2);
    EXPECT_EQ(a.received(0, exact), (strings{sse(id3, "T", "c", "3"), sse(id4, "T", "c", "4")}));
    a.subscribe(1, late, {"c"}, id1);
    a.subscribe(1, ancient, {"c"}, event_id{1, 0});  // before this instance knew the channel
    const auto id5 = a.publish("c", "T", "5");
    EXPECT_EQ(a.received(1, late), (strings{format_reset_event("c"), sse(id5, "T", "c", "5")}));
    EXPECT_EQ(a.received(1, ancient), (strings{format_reset_event("c"), sse(id5, "T", "c", "5")}));
    EXPECT_EQ(a.counters.events_reset.value(), 2U);
}

TEST_F(registry_test, retained_channels_start_with_their_last_event) {
    events_options options;
    options.retain = {"state:*"};
    node a(bus_, options);
    a.publish("state:x", "S", "1");
    const auto id2 = a.publish("state:x", "S", "2");
    a.publish("other", "S", "1");
    fake_subscriber s;
    a.subscribe(1, s, {"state:x", "other"});
    EXPECT_EQ(a.received(1, s), strings{sse(id2, "S", "state:x", "2")});
    const auto id3 = a.publish("state:x", "S", "3");
    EXPECT_EQ(a.received(1, s),
              (strings{sse(id2, "S", "state:x", "2"), sse(id3, "S", "state:x", "3")}));
}

TEST_F(registry_test, events_cross_instances_over_the_bus) {
    node a(bus_, {});
    node b(bus_, {});
    fake_subscriber on_a, on_b;
    a.subscribe(1, on_a, {"c"});
    b.subscribe(0, on_b, {"c"});
    const auto id = a.publish("c", "T", R"({"x":1})");
    const auto expected = sse(id, "T", "c", R"({"x":1})");
    EXPECT_EQ(a.received(1, on_a), strings{expected});
    ASSERT_TRUE(eventually([&] { return b.received(0, on_b).size() == 1; }));
    EXPECT_EQ(b.received(0, on_b), strings{expected});

    // b's history holds what came after its subscription's millisecond (ids of that
    // millisecond may predate it): a resume from there is served, not reset.
    event_id later = id;
    for (int i = 0; later.ms <= id.ms && i < 1'000'000; ++i) {
        later = a.publish("c", "T", "0");
    }
    const auto last = a.publish("c", "T", R"("last")");
    ASSERT_TRUE(
        eventually([&] { return b.received(0, on_b).back().find("last") != std::string::npos; }));
    fake_subscriber resumed;
    b.subscribe(1, resumed, {"c"}, later);
    EXPECT_EQ(b.received(1, resumed), strings{sse(last, "T", "c", R"("last")")});

    // A later id on b sorts after the one a assigned.
    const auto from_b = b.publish("c", "T", "2");
    EXPECT_GT(from_b, id);
    // Its delivery to a's subscriber is on its way: wait for it, or it could land after the
    // subscriber (a local of this test) is gone.
    ASSERT_TRUE(
        eventually([&] { return a.received(1, on_a).back() == sse(from_b, "T", "c", "2"); }));
}

TEST_F(registry_test, counts_and_drops_malformed_bus_payloads) {
    node a(bus_, {});
    fake_subscriber s;
    a.subscribe(0, s, {"c"});
    ASSERT_TRUE(run_on(a.pool, 0, [&] {
        a.router.on_backplane_message("app:switchboard:events:c", make_shared_buffer("{nope"));
        a.router.on_backplane_message(
            "app:switchboard:events:c",
            make_shared_buffer(encode_bus_event("other", "T", "1", event_id{1, 1})));
    }));
    ASSERT_TRUE(drain(a.pool));
    EXPECT_EQ(a.events.malformed_messages(), 2U);
    EXPECT_TRUE(a.received(0, s).empty());
}

TEST_F(registry_test, the_embedded_api_validates_and_publishes_json) {
    node a(bus_, {});
    fake_subscriber s;
    a.subscribe(1, s, {"c"});
    EXPECT_FALSE(a.events.publish("a b", "T", boost::json::value(1)));
    EXPECT_FALSE(a.events.publish("c", "no spaces", boost::json::value(1)));
    std::promise<event_id> id;
    // From a thread that is no shard, as an embedding application would.
    ASSERT_TRUE(a.events.publish("c", "T", boost::json::value{{"k", "v"}},
                                 [&id](event_id got) { id.set_value(got); }));
    auto future = id.get_future();
    ASSERT_EQ(future.wait_for(test::shard_deadline), std::future_status::ready);
    const auto got = future.get();
    ASSERT_TRUE(drain(a.pool));
    EXPECT_EQ(a.received(1, s), strings{sse(got, "T", "c", R"({"k":"v"})")});
}

TEST_F(registry_test, reports_local_channels) {
    node a(bus_, {});
    fake_subscriber s, t;
    a.subscribe(0, s, {"b", "a"});
    a.subscribe(1, t, {"a"});
    std::promise<std::vector<channel_count>> result;
    ASSERT_TRUE(run_on(a.pool, 1, [&] {
        a.events.local_channels([&](std::vector<channel_count> c) { result.set_value(c); });
    }));
    auto future = result.get_future();
    ASSERT_EQ(future.wait_for(test::shard_deadline), std::future_status::ready);
    const auto counts = future.get();
    ASSERT_EQ(counts.size(), 2U);
    EXPECT_EQ(counts[0].channel, "a");
    EXPECT_EQ(counts[0].subscribers, 2U);
    EXPECT_EQ(counts[1].channel, "b");
    EXPECT_EQ(counts[1].subscribers, 1U);
}

// A bus member that is no Switchboard: a StateleSSE server listening to `sl:events`.
struct statelesse_peer final : routing::backplane_handler {
    explicit statelesse_peer(const std::shared_ptr<routing::memory_bus>& bus)
        : member(bus, pool.context(0).get_executor()) {
        pool.start();
        EXPECT_TRUE(run_on(pool, 0, [this] {
            member.subscribe("sl:events");
            member.start(*this);
        }));
    }
    ~statelesse_peer() {
        EXPECT_TRUE(run_on(pool, 0, [this] { member.stop(); }));
        pool.stop_and_join();
    }
    statelesse_peer(const statelesse_peer&) = delete;
    statelesse_peer& operator=(const statelesse_peer&) = delete;

    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        EXPECT_EQ(channel, "sl:events");
        received.push_back(*payload);
    }
    strings messages() {
        strings copy;
        EXPECT_TRUE(run_on(pool, 0, [&] { copy = received; }));
        return copy;
    }

    shard_pool pool{1};
    routing::memory_backplane member;
    strings received;  // pool shard 0
};

events_options statelesse_options(statelesse_type_rule rule = statelesse_type_rule::last_segment) {
    events_options options;
    options.statelesse_prefix = "sl";
    options.statelesse_type = rule;
    return options;
}

TEST_F(registry_test, statelesse_publications_go_out_as_tagged_envelopes_and_arrive_once) {
    node a(bus_, statelesse_options());
    node b(bus_, statelesse_options());
    statelesse_peer peer(bus_);
    EXPECT_EQ(a.events.statelesse_channel(), "sl:events");
    fake_subscriber on_b;
    b.subscribe(0, on_b, {"game:1:PlayerJoinedEvent"});
    const auto id = a.publish("game:1:PlayerJoinedEvent", "PlayerJoinedEvent", R"({"p":"ann"})");
    ASSERT_TRUE(eventually([&] { return peer.messages().size() == 1; }));
    const auto envelope = decode_statelesse_envelope(peer.messages()[0]);
    ASSERT_TRUE(envelope) << envelope.error_message();
    EXPECT_EQ(envelope->group_id, "game:1:PlayerJoinedEvent");
    EXPECT_EQ(envelope->payload_json, R"({"p":"ann"})");
    ASSERT_TRUE(envelope->published_at);
    EXPECT_EQ(envelope->published_at->size(), 28U);
    ASSERT_TRUE(envelope->origin);
    EXPECT_EQ(envelope->origin->prefix, "app:");
    EXPECT_EQ(envelope->origin->type, "PlayerJoinedEvent");
    EXPECT_EQ(envelope->origin->id, format_event_id(id));

    // b got the native publication and the envelope; a marker after both shows only one
    // delivery (the bus keeps each publisher's order).
    const auto marker = a.publish("game:1:PlayerJoinedEvent", "T", "2");
    ASSERT_TRUE(eventually([&] { return b.received(0, on_b).size() == 2; }));
    ASSERT_TRUE(eventually([&] { return peer.messages().size() == 2; }));
    EXPECT_EQ(b.received(0, on_b),
              (strings{sse(id, "PlayerJoinedEvent", "game:1:PlayerJoinedEvent", R"({"p":"ann"})"),
                       sse(marker, "T", "game:1:PlayerJoinedEvent", "2")}));
    EXPECT_EQ(b.events.malformed_messages(), 0U);

    // `all` sends one "*" envelope, not one per channel.
    fake_subscriber on_a;
    a.subscribe(1, on_a, {"x"});
    ASSERT_TRUE(run_on(a.pool, 1, [&] { a.events.publish_all("B", "3", [](auto) {}); }));
    ASSERT_TRUE(eventually([&] { return peer.messages().size() == 3; }));
    const auto all = decode_statelesse_envelope(peer.messages()[2]);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->group_id, "*");
    EXPECT_EQ(all->payload_json, "3");
    ASSERT_TRUE(eventually([&] { return b.received(0, on_b).size() == 3; }));
    EXPECT_EQ(a.received(1, on_a).size(), 1U);
}

TEST_F(registry_test, statelesse_envelopes_reach_their_group_or_every_channel) {
    node a(bus_, statelesse_options());
    statelesse_peer peer(bus_);
    fake_subscriber joined, system;
    a.subscribe(0, joined, {"game:1:PlayerJoinedEvent"});
    a.subscribe(1, system, {"system:all"});
    const auto inject = [&](std::string payload) {
        ASSERT_TRUE(run_on(a.pool, 0, [&] {
            a.router.on_backplane_message("sl:events", make_shared_buffer(std::move(payload)));
        }));
        ASSERT_TRUE(drain(a.pool));
    };
    const auto event_lines = [](const std::string& sse_text) {
        // Without the id line (assigned locally).
        return sse_text.substr(sse_text.find('\n') + 1);
    };
    inject(R"({"GroupId":"game:1:PlayerJoinedEvent","Payload":{"p":"ann"},)"
           R"("PublishedAt":"2026-01-15T10:20:30.1234567Z"})");
    auto got = a.received(0, joined);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_TRUE(got[0].starts_with("id: "));
    EXPECT_EQ(event_lines(got[0]),
              "event: PlayerJoinedEvent\ndata: {\"channel\":"
              "\"game:1:PlayerJoinedEvent\",\"data\":{\"p\":\"ann\"}}\n\n");
    EXPECT_TRUE(a.received(1, system).empty());

    inject(R"({"Payload":"hi","GroupId":"*"})");
    ASSERT_EQ(a.received(0, joined).size(), 2U);
    ASSERT_EQ(a.received(1, system).size(), 1U);
    EXPECT_EQ(event_lines(a.received(1, system)[0]),
              "event: message\ndata: {\"channel\":\"system:all\",\"data\":\"hi\"}\n\n");

    // Nobody here serves it: dropped. Malformed: counted and dropped.
    inject(R"({"GroupId":"game:2:PlayerJoinedEvent","Payload":1})");
    inject(R"({"GroupId":"a b","Payload":1})");
    inject("not json");
    EXPECT_EQ(a.events.malformed_messages(), 2U);

    // This deployment's own envelopes are ignored (the native channel carries them); another
    // deployment's carry their type.
    const statelesse_origin ours{"app:", "Mine", "1-0"};
    inject(encode_statelesse_envelope("system:all", "1", "t", &ours));
    const statelesse_origin theirs{"other:", "Theirs", "1-0"};
    inject(encode_statelesse_envelope("system:all", "2", "t", &theirs));
    got = a.received(1, system);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(event_lines(got[1]),
              "event: Theirs\ndata: {\"channel\":\"system:all\",\"data\":2}\n\n");
    EXPECT_EQ(a.received(0, joined).size(), 2U);
    EXPECT_TRUE(peer.messages().empty());
}

TEST_F(registry_test, statelesse_events_may_all_be_named_message) {
    node a(bus_, statelesse_options(statelesse_type_rule::message));
    statelesse_peer peer(bus_);
    fake_subscriber s;
    a.subscribe(0, s, {"game:1:PlayerJoinedEvent"});
    ASSERT_TRUE(run_on(a.pool, 0, [&] {
        a.router.on_backplane_message(
            "sl:events",
            make_shared_buffer(R"({"GroupId":"game:1:PlayerJoinedEvent","Payload":1})"));
    }));
    ASSERT_TRUE(drain(a.pool));
    const auto got = a.received(0, s);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_NE(got[0].find("\nevent: message\n"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::events

namespace switchboard::events {
namespace {

TEST_F(registry_test, keeps_a_bounded_number_of_channels_without_subscribers) {
    events_options options;
    options.max_idle_channels = 4;  // two per home shard
    node a(bus_, options);
    node b(bus_, {});
    fake_subscriber remote;
    b.subscribe(0, remote, {"far:9"});
    ASSERT_TRUE(eventually([&] { return a.backplane.connected(); }));
    // Many channels nobody here listens to; beyond the bound each still gets an id and its
    // events still reach the bus (another instance's subscriber).
    for (int i = 0; i < 50; ++i) {
        std::string channel = "idle:";
        channel += std::to_string(i);
        EXPECT_GT(a.publish(channel, "T", "null"), event_id{});
    }
    const auto far = a.publish("far:9", "T", "1");
    ASSERT_TRUE(eventually([&] { return b.received(0, remote).size() == 1; }));
    EXPECT_EQ(b.received(0, remote), strings{sse(far, "T", "far:9", "1")});
    // A channel subscribed here always gets its state, bound or not.
    fake_subscriber local;
    a.subscribe(1, local, {"fresh"});
    const auto id = a.publish("fresh", "T", "2");
    EXPECT_EQ(a.received(1, local), strings{sse(id, "T", "fresh", "2")});
}

// A shared history in memory that behaves as Redis Streams do: ids (ms, seq) increasing per
// channel. `hold` keeps append answers until release(); `refuse` answers nullopt at once;
// `outcome` is what reads answer; with `publish_on`, it publishes each event there before
// answering, to every member (as Redis, publisher included).
class fake_history_store final : public history_store {
public:
    explicit fake_history_store(std::shared_ptr<routing::memory_bus> publish_on = nullptr)
        : publish_on_(std::move(publish_on)) {}

    [[nodiscard]] bool publishes() const noexcept override { return publish_on_ != nullptr; }
    void append(const std::string& channel, const std::string& type, const std::string& data_json,
                bus_copy copy, boost::asio::any_io_executor reply_on,
                append_callback done) override {
        std::lock_guard lock(mutex_);
        if (refuse) {
            boost::asio::post(reply_on, [done] { done(std::nullopt); });
            return;
        }
        auto& stream = streams_[channel];
        const auto now = unix_ms_now();
        const event_id id = stream.empty() || now > stream.back().id.ms
                                ? event_id{now, 0}
                                : event_id{stream.back().id.ms, stream.back().id.seq + 1};
        stream.push_back(history_record{id, type, data_json});
        if (publish_on_) {
            publish_on_->publish(
                nullptr, copy.channel,
                make_shared_buffer(copy.frame.before_data + data_json + copy.frame.after_data +
                                   format_event_id(id) + std::string(bus_event_tail)));
        }
        auto answer = [reply_on, done, id] {
            boost::asio::post(reply_on, [done, id] { done(id); });
        };
        if (hold) {
            held_.push_back(answer);
        } else {
            answer();
        }
    }
    void read_after(const std::string& channel, event_id after, std::size_t,
                    boost::asio::any_io_executor reply_on, range_callback done) override {
        std::lock_guard lock(mutex_);
        history_range range;
        range.result = outcome;
        for (const auto& record : streams_[channel]) {
            if (record.id > after) {
                range.events.push_back(record);
            }
        }
        ++reads;
        boost::asio::post(reply_on, [done, range] { done(range); });
    }
    [[nodiscard]] bool available() const noexcept override { return true; }

    void release() {
        std::vector<std::function<void()>> answers;
        {
            std::lock_guard lock(mutex_);
            answers.swap(held_);
        }
        for (auto& answer : answers) {
            answer();
        }
    }

    std::atomic<bool> hold = false;
    std::atomic<bool> refuse = false;
    std::atomic<history_range::outcome> outcome = history_range::outcome::complete;
    std::atomic<std::size_t> reads = 0;

private:
    std::shared_ptr<routing::memory_bus> publish_on_;
    std::mutex mutex_;
    std::map<std::string, std::vector<history_record>> streams_;
    std::vector<std::function<void()>> held_;
};

TEST_F(registry_test, publications_take_the_shared_history_ids_in_the_order_made) {
    fake_history_store store;
    node a(bus_, {}, &store);
    node b(bus_, {});  // makes the bus shared: only then is the store used
    fake_subscriber s;
    a.subscribe(0, s, {"c"});
    store.hold = true;
    std::promise<event_id> first, second;
    a.events.publish(std::string("c"), "T", "1", [&](event_id id) { first.set_value(id); });
    ASSERT_TRUE(drain(a.pool));
    store.refuse = true;  // answered at once, yet published after the held one
    a.events.publish(std::string("c"), "T", "2", [&](event_id id) { second.set_value(id); });
    ASSERT_TRUE(drain(a.pool));
    EXPECT_TRUE(a.received(0, s).empty());
    store.release();
    const auto id1 = first.get_future().get();
    const auto id2 = second.get_future().get();
    EXPECT_GT(id2, id1);  // the local clock observed the store's id first
    ASSERT_TRUE(drain(a.pool));
    EXPECT_EQ(a.received(0, s), (strings{sse(id1, "T", "c", "1"), sse(id2, "T", "c", "2")}));
}

TEST_F(registry_test, a_store_that_publishes_reaches_every_instance_once) {
    fake_history_store store(bus_);
    node a(bus_, {}, &store);
    node b(bus_, {}, &store);
    fake_subscriber on_a, on_b;
    a.subscribe(0, on_a, {"c"});
    b.subscribe(1, on_b, {"c"});
    const auto id1 = a.publish("c", "T", "1");
    const auto id2 = b.publish("c", "T", "2");
    const auto id3 = a.publish("c", "T", "3");
    const strings all{sse(id1, "T", "c", "1"), sse(id2, "T", "c", "2"), sse(id3, "T", "c", "3")};
    // Each publisher's own copy comes back from the bus before the next event does, and is
    // dropped by its origin: a duplicate would show before the last event.
    ASSERT_TRUE(eventually([&] { return b.received(1, on_b).size() >= 3; }));
    ASSERT_TRUE(eventually([&] { return a.received(0, on_a).size() >= 3; }));
    const auto last_from_b = b.publish("c", "T", "4");
    ASSERT_TRUE(eventually([&] { return a.received(0, on_a).size() >= 4; }));
    auto expected = all;
    expected.push_back(sse(last_from_b, "T", "c", "4"));
    EXPECT_EQ(a.received(0, on_a), expected);
    EXPECT_EQ(b.received(1, on_b), expected);
}

TEST_F(registry_test, an_instance_that_never_listened_resumes_from_the_shared_history) {
    fake_history_store store;
    node a(bus_, {}, &store);
    node b(bus_, {}, &store);
    const auto id1 = b.publish("c", "T", "1");
    const auto id2 = b.publish("c", "T", "2");
    const auto id3 = b.publish("c", "T", "3");
    fake_subscriber resumed;
    a.subscribe(1, resumed, {"c"}, id1);
    ASSERT_TRUE(eventually([&] { return a.received(1, resumed).size() == 2; }));
    EXPECT_EQ(a.received(1, resumed), (strings{sse(id2, "T", "c", "2"), sse(id3, "T", "c", "3")}));
    EXPECT_EQ(a.counters.events_resumed.value(), 1U);
    EXPECT_EQ(store.reads, 1U);
    const auto id4 = b.publish("c", "T", "4");
    ASSERT_TRUE(eventually([&] { return a.received(1, resumed).size() == 3; }));
    EXPECT_EQ(a.received(1, resumed).back(), sse(id4, "T", "c", "4"));
}

TEST_F(registry_test, a_shared_history_that_cannot_vouch_answers_reset) {
    fake_history_store store;
    node a(bus_, {}, &store);
    node b(bus_, {}, &store);
    const auto id1 = b.publish("c", "T", "1");
    b.publish("c", "T", "2");
    for (const auto outcome : {history_range::outcome::trimmed, history_range::outcome::too_many,
                               history_range::outcome::unavailable}) {
        store.outcome = outcome;
        fake_subscriber resumed;
        a.subscribe(0, resumed, {"c"}, id1);
        ASSERT_TRUE(eventually([&] { return a.received(0, resumed).size() == 1; }));
        EXPECT_EQ(a.received(0, resumed), strings{format_reset_event("c")});
        a.unsubscribe(0, resumed, {"c"});
    }
}

}  // namespace
}  // namespace switchboard::events
