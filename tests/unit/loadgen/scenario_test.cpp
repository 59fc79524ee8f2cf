#include "loadgen/scenario.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::loadgen {
namespace {

TEST(payload, carries_the_send_time_and_has_the_requested_size) {
    std::string text;
    write_payload(123'456'789, 256, text);
    EXPECT_EQ(text.size(), 256u);
    EXPECT_EQ(read_payload(text), 123'456'789u);
    // Shorter sizes still hold the whole timestamp.
    write_payload(~std::uint64_t{0}, 4, text);
    EXPECT_EQ(text.size(), 20u);
    EXPECT_EQ(read_payload(text), ~std::uint64_t{0});
}

TEST(payload, carries_the_instance_it_was_published_on) {
    std::string text;
    write_payload(123'456'789, 256, text, 1);
    EXPECT_EQ(text.size(), 256u);
    EXPECT_EQ(read_payload(text), 123'456'789u);
    EXPECT_EQ(read_origin(text), 1u);
    write_payload(5, 64, text, 12);
    EXPECT_EQ(read_origin(text), 12u);
    // Without an origin, or without room for it, there is none to read.
    write_payload(5, 64, text);
    EXPECT_EQ(read_origin(text), std::nullopt);
    write_payload(5, 20, text, 1);
    EXPECT_EQ(text.size(), 20u);
    EXPECT_EQ(read_origin(text), std::nullopt);
    write_payload(5, 21, text, 12);
    EXPECT_EQ(text.size(), 21u);
    EXPECT_EQ(read_origin(text), std::nullopt);
}

TEST(payload, crosses_instances_only_between_different_known_ones) {
    EXPECT_TRUE(crossed_instances(0, 1, 2));
    EXPECT_FALSE(crossed_instances(1, 1, 2));
    EXPECT_FALSE(crossed_instances(std::nullopt, 1, 2));
    EXPECT_FALSE(crossed_instances(0, 0, 1));
}

TEST(payload, ignores_text_it_did_not_write) {
    EXPECT_EQ(read_payload("hello"), std::nullopt);
    EXPECT_EQ(read_payload("hello there, this is a chat message"), std::nullopt);
}

TEST(scenario, names_round_trip) {
    for (const auto* name :
         {"echo", "broadcast", "group", "big-group", "connection", "idle", "sse", "sse-idle"}) {
        auto kind = parse_scenario(name);
        ASSERT_TRUE(kind) << name;
        EXPECT_EQ(scenario_name(*kind), name);
    }
    EXPECT_FALSE(parse_scenario("flood"));
}

TEST(target, accepts_loopback_urls_only) {
    auto ok = parse_target("http://127.0.0.1:5000/hubs/chat");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->endpoint.port(), 5000);
    EXPECT_EQ(ok->path, "/hubs/chat");
    auto bare = parse_target("ws://localhost:81");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->path, "/hubs/chat");
    EXPECT_FALSE(parse_target("http://10.0.0.1:5000/hubs/chat"));
    EXPECT_FALSE(parse_target("https://127.0.0.1:5000/hubs/chat"));
    EXPECT_FALSE(parse_target("not a url"));
}

TEST(source_addresses, expands_ranges_and_lists) {
    auto range = parse_source_addresses("127.0.0.1-127.0.0.20");
    ASSERT_TRUE(range);
    ASSERT_EQ(range->size(), 20u);
    EXPECT_EQ(range->back().to_string(), "127.0.0.20");
    auto list = parse_source_addresses("127.0.0.2,127.0.0.5-127.0.0.6");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->size(), 3u);
    EXPECT_TRUE(parse_source_addresses("")->empty());
    EXPECT_FALSE(parse_source_addresses("192.168.1.1"));
    EXPECT_FALSE(parse_source_addresses("127.0.0.9-127.0.0.2"));
}

TEST(plan, spreads_senders_evenly) {
    bench_options options;
    options.kind = scenario::group;
    options.connections = 100;
    options.senders = 10;
    const plan p(options);
    std::size_t senders = 0;
    for (std::size_t i = 0; i < 100; ++i) {
        if (p.is_sender(i)) {
            EXPECT_EQ(i % 10, 0u) << i;
            ++senders;
        }
    }
    EXPECT_EQ(senders, 10u);
}

TEST(plan, places_connections_and_publishers_on_instances) {
    bench_options options;
    options.connections = 10;
    options.urls = {"http://127.0.0.1:1/hubs/chat", "http://127.0.0.1:2/hubs/chat"};
    const plan two(options);
    EXPECT_EQ(two.instance_of(0), 0u);
    EXPECT_EQ(two.instance_of(3), 1u);
    EXPECT_EQ(two.publish_instance_of(3), 1u);
    // Event publishers alternate by sender ordinal: with 5 senders of 10 they sit at the even
    // indices, which instance_of would all put on the first instance.
    options.kind = scenario::sse;
    options.senders = 5;
    const plan events(options);
    EXPECT_TRUE(events.is_sender(2));
    EXPECT_EQ(events.sender_ordinal(2), 1u);
    EXPECT_EQ(events.publish_instance_of(2), 1u);
    EXPECT_EQ(events.publish_instance_of(4), 0u);
    options.kind = bench_options{}.kind;
    options.senders = 0;
    // Nchan's senders publish over HTTP to the first URL, wherever they subscribe.
    options.system = system_kind::nchan;
    EXPECT_EQ(plan(options).instance_of(3), 1u);
    EXPECT_EQ(plan(options).publish_instance_of(3), 0u);
    options.urls.resize(1);
    EXPECT_EQ(plan(options).instance_of(3), 0u);
}

TEST(plan, fanout_follows_the_scenario) {
    bench_options options;
    options.connections = 25;
    options.kind = scenario::broadcast;
    EXPECT_EQ(plan(options).senders(), 1u);
    EXPECT_EQ(plan(options).fanout_of(0), 25u);
    options.kind = scenario::echo;
    EXPECT_EQ(plan(options).senders(), 25u);
    EXPECT_EQ(plan(options).fanout_of(3), 1u);
    options.kind = scenario::connection;
    EXPECT_EQ(plan(options).fanout_of(3), 2u);
    options.kind = scenario::group;
    EXPECT_EQ(plan(options).fanout_of(3), 10u);
    EXPECT_EQ(plan(options).fanout_of(24), 5u);  // the last group holds the remainder
    EXPECT_EQ(plan(options).group_of(9), plan(options).group_of(0));
    EXPECT_NE(plan(options).group_of(10), plan(options).group_of(9));
    options.kind = scenario::idle;
    EXPECT_EQ(plan(options).senders(), 0u);
}

TEST(plan, sse_publishes_once_per_channel_to_its_subscribers) {
    bench_options options;
    options.kind = scenario::sse;
    options.connections = 2001;
    options.channels = 2;
    options.run_id = "7";
    const plan p(options);
    // One publisher per channel by default, each on its own channel.
    EXPECT_EQ(p.senders(), 2u);
    std::vector<std::size_t> publishers;
    for (std::size_t i = 0; i < options.connections; ++i) {
        if (p.is_sender(i)) {
            publishers.push_back(i);
        }
    }
    ASSERT_EQ(publishers.size(), 2u);
    EXPECT_EQ(p.sse_publish_channel_number(publishers[0]), 0u);
    EXPECT_EQ(p.sse_publish_channel_number(publishers[1]), 1u);
    // Subscribers alternate: 1,001 on channel 0, 1,000 on channel 1.
    EXPECT_EQ(p.fanout_of(publishers[0]), 1001u);
    EXPECT_EQ(p.fanout_of(publishers[1]), 1000u);
    EXPECT_EQ(p.sse_subscribe_target(3), "/events/bench-7-0-sse1");

    std::string target;
    std::string body;
    p.sse_publish_request(publishers[1], "0042", target, body);
    EXPECT_EQ(target, "/api/events/bench-7-0-sse1");
    EXPECT_EQ(body, R"({"type":"bench","data":"0042"})");

    options.system = system_kind::nchan;
    const plan nchan(options);
    EXPECT_EQ(nchan.sse_subscribe_target(3), "/sse/bench-7-0-sse1");
    nchan.sse_publish_request(publishers[0], "0042", target, body);
    EXPECT_EQ(target, "/pub/bench-7-0-sse0");
    EXPECT_EQ(body, "0042");

    options.kind = scenario::sse_idle;
    EXPECT_EQ(plan(options).senders(), 0u);
    EXPECT_TRUE(unsupported(system_kind::socketio, scenario::sse));
    EXPECT_FALSE(unsupported(system_kind::nchan, scenario::sse));
}

}  // namespace
}  // namespace switchboard::loadgen
