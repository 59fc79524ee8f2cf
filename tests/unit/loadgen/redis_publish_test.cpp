#include "loadgen/redis_publish.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace switchboard::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(redis_publish, loads_loopback_redis_only) {
    auto url = parse_redis_target("redis://127.0.0.1:6380");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->port, 6380);
    EXPECT_TRUE(parse_redis_target("localhost:6379,channelPrefix=app"));
    EXPECT_TRUE(parse_redis_target("redis://[::1]:6379"));

    auto remote = parse_redis_target("redis://192.0.2.1:6379");
    ASSERT_FALSE(remote);
    EXPECT_NE(remote.error_message().find("not a loopback address"), std::string::npos);
    EXPECT_FALSE(parse_redis_target("redis.example.com:6379"));
    EXPECT_FALSE(parse_redis_target("127.0.0.1:7000,shardedPubSub=true"));
    EXPECT_FALSE(parse_redis_target(""));
}

TEST(redis_publish, checks_its_options_before_any_load) {
    redis_publish_options options;
    EXPECT_EQ(check(options), std::nullopt);
    options.rate = -1;
    EXPECT_TRUE(check(options));
    options.rate = 1000;
    options.duration = 0ms;
    EXPECT_TRUE(check(options));
    options.duration = 1s;
    options.message_size = 10;  // no room for the timestamp
    EXPECT_TRUE(check(options));
    options.message_size = 256;
    options.redis = "redis://10.0.0.1";
    EXPECT_TRUE(check(options));
}

TEST(redis_publish, budget_follows_the_rate) {
    // Rate 0: as fast as the window allows.
    EXPECT_EQ(publish_budget(0, 5s, 1'000'000), ~std::uint64_t{0});
    // The first publish is due at once, then one per 1/rate.
    EXPECT_EQ(publish_budget(1000, 0ms, 0), 1u);
    EXPECT_EQ(publish_budget(1000, 0ms, 1), 0u);
    EXPECT_EQ(publish_budget(1000, 10ms, 1), 10u);
    EXPECT_EQ(publish_budget(1000, 10ms, 11), 0u);
    // Behind schedule: the whole backlog at once.
    EXPECT_EQ(publish_budget(1000, 1s, 0), 1001u);
}

TEST(redis_publish, reply_clock_times_sampled_publishes_by_reply_order) {
    reply_clock clock(2);  // publishes 0, 2, 4 are timed
    for (std::uint64_t n = 0; n < 5; ++n) {
        clock.published(n, 1'000 * n);
    }
    clock.acknowledged(1, 5'000);  // publish 0 answered
    EXPECT_EQ(clock.latency().count(), 1u);
    EXPECT_EQ(clock.latency().max(), 5'000u);
    clock.acknowledged(2, 6'000);  // publish 1: not timed
    EXPECT_EQ(clock.latency().count(), 1u);
    clock.acknowledged(5, 9'000);  // 2 (7,000 ns) and 4 (5,000 ns)
    EXPECT_EQ(clock.latency().count(), 3u);
    EXPECT_EQ(clock.latency().max(), 7'000u);
    EXPECT_EQ(clock.latency().min(), 5'000u);
    clock.acknowledged(5, 10'000);  // nothing new
    EXPECT_EQ(clock.latency().count(), 3u);
}

TEST(redis_publish, reports_json_and_a_markdown_row) {
    redis_publish_options options;
    options.redis = "redis://:secret@127.0.0.1:6379";
    options.subscribers = 1;
    redis_publish_result result;
    result.sent = 1'000'000;
    result.acknowledged = 1'000'000;
    result.received = 1'000'000;
    result.payload_bytes = 632;
    result.channel = "chat:all";
    result.send_seconds = 2.0;
    result.latency.record(1'500'000);
    result.server_cpu_seconds = 0.9;
    result.generator_cpu_seconds = 0.5;

    const auto report = to_json(options, result);
    EXPECT_EQ(report.at("scenario").as_string(), "redis-publish");
    EXPECT_EQ(report.at("redis").as_string().find("secret"), std::string::npos);
    EXPECT_DOUBLE_EQ(report.at("publishes_per_second").as_double(), 500'000.0);
    EXPECT_EQ(report.at("expected_by_subscribers").as_uint64(), 1'000'000u);
    EXPECT_DOUBLE_EQ(
        report.at("server").as_object().at("cpu_seconds_per_million_publishes").as_double(), 0.9);

    const auto row = redis_publish_markdown_row(report);
    EXPECT_EQ(row.rfind("| redis-publish | 1 | 256 | 632 | max | 500000 | 1.50 |", 0), 0u) << row;
    EXPECT_NE(row.find("| 1000000/1000000 | 0.90 | 0.50 |"), std::string::npos) << row;
    // One column per header column.
    const auto header = redis_publish_markdown_header();
    const auto first_line = header.substr(0, header.find('\n') + 1);
    EXPECT_EQ(std::count(row.begin(), row.end(), '|'),
              std::count(first_line.begin(), first_line.end(), '|'));
}

TEST(redis_publish, row_without_a_server_pid_has_no_redis_cpu) {
    redis_publish_options options;
    options.rate = 20'000;
    options.self_subscribe = true;
    redis_publish_result result;
    const auto row = redis_publish_markdown_row(to_json(options, result));
    EXPECT_EQ(row.rfind("| redis-publish | 0 + self | 256 |", 0), 0u) << row;
    EXPECT_NE(row.find("| 20000 | 0 |"), std::string::npos) << row;
    EXPECT_NE(row.find("| 0/0 | - |"), std::string::npos) << row;
}

}  // namespace
}  // namespace switchboard::loadgen
