// `switchboard bench redis-publish`: one instance's broadcasts pushed into Redis through the
// backplane's own client as fast as Redis acknowledges them (or at a set rate).
#pragma once

#include "core/expected.hpp"
#include "loadgen/bus_instance.hpp"
#include "loadgen/histogram.hpp"
#include "routing/redis/connection_string.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::loadgen {

struct redis_publish_options {
    std::string redis = "redis://127.0.0.1:6379";
    std::chrono::milliseconds duration{10'000};
    // Bytes of the text argument of ReceiveMessage, as --message-size of the hub scenarios;
    // the Redis payload carries it twice (JSON and MessagePack framings) plus the envelope.
    std::size_t message_size = 256;
    double rate = 0;  // publishes per second; 0: as fast as Redis acknowledges
    // Other instances subscribed to the hub's all channel, each a backplane of its own on its
    // own thread: Redis then writes every publication to them as well.
    std::size_t subscribers = 0;
    // The publishing instance subscribes to the channel too, as serve does for its hubs: Redis
    // then sends every publication back to it, and the backplane drops its own echo.
    bool self_subscribe = false;
    std::vector<int> server_pids;  // redis-server, for its CPU time
    std::string output_json;       // file, "-" for stdout
    std::string hub = "chat";      // the backplane name of the hub (its channels)
};

// The Redis server to load, from a connection string or URL: loopback only, one server (no
// sharded cluster), as the generator never loads anything beyond this machine.
expected<routing::redis::connection_options> parse_redis_target(std::string_view text);
// Why the options cannot run, or nothing.
std::optional<std::string> check(const redis_publish_options& options);

// Publish-to-reply latency without touching the client: Redis answers in order, so the n-th
// acknowledgement belongs to the n-th publish. Every `every`-th publish is timed; a sample
// ends once the acknowledged count passes it. The error is the time between the reply's
// arrival and the next look at the count (one turn of the event loop).
class reply_clock {
public:
    explicit reply_clock(std::uint64_t every = 64) : every_(every == 0 ? 1 : every) {}

    // `number` counts from 0 in publish order.
    void published(std::uint64_t number, std::uint64_t now_ns);
    void acknowledged(std::uint64_t count, std::uint64_t now_ns);

    [[nodiscard]] const histogram& latency() const noexcept { return latency_; }

private:
    std::uint64_t every_;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> pending_;  // (number, time)
    histogram latency_;
};

struct redis_publish_result {
    std::uint64_t sent = 0;  // publish() calls in the window
    std::uint64_t acknowledged = 0;
    std::uint64_t dropped = 0;
    std::uint64_t error_replies = 0;
    std::uint64_t received = 0;         // by the subscribers, summed
    std::uint64_t echoes_filtered = 0;  // with self_subscribe
    std::size_t payload_bytes = 0;
    std::string channel;
    double send_seconds = 0;  // the window, until the last acknowledgement or its end
    histogram latency;
    std::optional<double> server_cpu_seconds;
    double generator_cpu_seconds = 0;  // this process, subscribers included
};

boost::json::object to_json(const redis_publish_options& options,
                            const redis_publish_result& result);
std::string redis_publish_markdown_header();
std::string redis_publish_markdown_row(const boost::json::object& report);

// Connects, runs the window, prints progress every second, reports; the exit status.
int run_redis_publish(const redis_publish_options& options);

}  // namespace switchboard::loadgen
