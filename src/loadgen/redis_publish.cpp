#include "loadgen/redis_publish.hpp"

#include "loadgen/bench.hpp"
#include "loadgen/bus_instance.hpp"
#include "loadgen/scenario.hpp"
#include "routing/redis/redis_backplane.hpp"
#include "routing/redis/redis_client.hpp"
#include "routing/scaleout/channels.hpp"
#include "routing/scaleout/messages.hpp"
#include "routing/serialized_message.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

namespace switchboard::loadgen {

namespace {

using namespace std::chrono_literals;
namespace redis = routing::redis;
namespace scaleout = routing::scaleout;

// Publishes Redis has not answered yet, in bytes of commands: enough to keep Redis busy while
// its replies travel back, far below the client's queue bound (16 MiB), so nothing is dropped
// for want of room. Measured: 4 MiB gave no more throughput, only 8x the latency.
constexpr std::size_t window_bytes = 512 * 1024;

redis::backplane_options backplane_options_for(const redis::connection_options& connection) {
    redis::backplane_options options;
    options.client.connection = connection;
    return options;
}

std::uint64_t subscribers_received(const std::vector<std::unique_ptr<bus_instance>>& all) {
    std::uint64_t total = 0;
    for (const auto& s : all) {
        total += s->received();
    }
    return total;
}

}  // namespace

expected<redis::connection_options> parse_redis_target(std::string_view text) {
    auto connection = redis::parse_connection_string(text);
    if (!connection) {
        return make_error("--redis: " + connection.error_message());
    }
    if (connection->sharded) {
        return make_error("--redis: one server only (no shardedPubSub)");
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(connection->host, ec);
    if (connection->host != "localhost" && (ec || !address.is_loopback())) {
        std::string message = "--redis: ";
        message.append(connection->host).append(" is not a loopback address");
        return make_error(std::move(message));
    }
    return connection;
}

std::optional<std::string> check(const redis_publish_options& options) {
    if (auto target = parse_redis_target(options.redis); !target) {
        return target.error_message();
    }
    if (options.duration <= 0ms) {
        return "--duration must be positive";
    }
    if (!std::isfinite(options.rate) || options.rate < 0) {
        return "--rate must be 0 (as fast as possible) or a positive number";
    }
    if (options.message_size < 20) {
        return "--message-size must hold the 20-digit timestamp";
    }
    if (options.subscribers > 64) {
        return "--subscribers: at most 64";
    }
    return std::nullopt;
}

void reply_clock::published(std::uint64_t number, std::uint64_t now_ns) {
    if (number % every_ == 0) {
        pending_.emplace_back(number, now_ns);
    }
}

void reply_clock::acknowledged(std::uint64_t count, std::uint64_t now_ns) {
    while (!pending_.empty() && pending_.front().first < count) {
        const auto sent = pending_.front().second;
        latency_.record(now_ns > sent ? now_ns - sent : 0);
        pending_.pop_front();
    }
}

boost::json::object to_json(const redis_publish_options& options,
                            const redis_publish_result& result) {
    const auto per_second = [&](std::uint64_t n) {
        return result.send_seconds > 0 ? static_cast<double>(n) / result.send_seconds : 0.0;
    };
    const auto per_million = [&](double seconds) {
        return result.acknowledged > 0 ? seconds / (static_cast<double>(result.acknowledged) / 1e6)
                                       : 0.0;
    };
    boost::json::object report{
        {"scenario", "redis-publish"},
        {"redis", redis::redact_connection_string(options.redis)},
        {"channel", result.channel},
        {"message_size", options.message_size},
        {"payload_bytes", result.payload_bytes},
        {"rate", options.rate},
        {"duration_s", std::chrono::duration<double>(options.duration).count()},
        {"subscribers", options.subscribers},
        {"self_subscribe", options.self_subscribe},
        {"echoes_filtered", result.echoes_filtered},
        {"sent", result.sent},
        {"acknowledged", result.acknowledged},
        {"dropped", result.dropped},
        {"error_replies", result.error_replies},
        {"received_by_subscribers", result.received},
        {"expected_by_subscribers", result.acknowledged * options.subscribers},
        {"send_seconds", result.send_seconds},
        {"publishes_per_second", per_second(result.acknowledged)},
        {"latency_us", latency_json(result.latency)},
        {"generator",
         {{"cpu_seconds", result.generator_cpu_seconds},
          {"cpu_seconds_per_million_publishes", per_million(result.generator_cpu_seconds)}}},
    };
    boost::json::object server;
    if (result.server_cpu_seconds) {
        server["cpu_seconds"] = *result.server_cpu_seconds;
        server["cpu_seconds_per_million_publishes"] = per_million(*result.server_cpu_seconds);
    }
    report["server"] = std::move(server);
    return report;
}

std::string redis_publish_markdown_header() {
    return "| scenario | subscribers | size | payload B | rate | publishes/s | p50 ms | p99 ms | "
           "acknowledged/sent | redis CPU s per 1M | generator CPU s per 1M |\n"
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
}

std::string redis_publish_markdown_row(const boost::json::object& report) {
    const auto text = [&](const char* key) { return boost::json::serialize(report.at(key)); };
    const auto& latency = report.at("latency_us").as_object();
    const auto ms = [&](const char* key) { return fixed(number_of(latency.at(key)) / 1000.0, 2); };
    std::string cpu = "-";
    if (const auto* v =
            report.at("server").as_object().if_contains("cpu_seconds_per_million_publishes")) {
        cpu = fixed(number_of(*v), 2);
    }
    const auto rate = number_of(report.at("rate"));
    const auto* self = report.if_contains("self_subscribe");
    std::string row = "| redis-publish | ";
    row.append(text("subscribers"))
        .append(self != nullptr && self->is_bool() && self->get_bool() ? " + self" : "")
        .append(" | ")
        .append(text("message_size"))
        .append(" | ")
        .append(text("payload_bytes"))
        .append(" | ")
        .append(rate > 0 ? fixed(rate, 0) : "max")
        .append(" | ")
        .append(fixed(number_of(report.at("publishes_per_second")), 0))
        .append(" | ")
        .append(ms("p50"))
        .append(" | ")
        .append(ms("p99"))
        .append(" | ")
        .append(text("acknowledged"))
        .append("/")
        .append(text("sent"))
        .append(" | ")
        .append(cpu)
        .append(" | ")
        .append(fixed(
            number_of(report.at("generator").as_object().at("cpu_seconds_per_million_publishes")),
            2))
        .append(" |\n");
    return row;
}

int run_redis_publish(const redis_publish_options& options) {
    if (const auto why = check(options)) {
        std::fprintf(stderr, "bench redis-publish: %s\n", why->c_str());
        return 2;
    }
    const auto connection = *parse_redis_target(options.redis);
    const scaleout::channels channels(connection.channel_prefix, options.hub);
    redis_publish_result result;
    result.channel = channels.all();
    const auto payload = make_shared_buffer(broadcast_payload(options.message_size));
    result.payload_bytes = payload->size();

    std::vector<std::unique_ptr<bus_instance>> subscribers;
    const auto make = [&](boost::asio::io_context& c) -> std::unique_ptr<routing::backplane> {
        return std::make_unique<redis::redis_backplane>(c, backplane_options_for(connection));
    };
    for (std::size_t i = 0; i < options.subscribers; ++i) {
        subscribers.push_back(std::make_unique<bus_instance>(make, result.channel));
    }

    // The publishing instance: the client under a backplane, as serve builds it, with the
    // client kept at hand for its statistics.
    boost::asio::io_context context;
    redis::client_options client_options;
    client_options.connection = connection;
    auto owned = std::make_unique<redis::redis_client>(context, client_options);
    auto& client = *owned;
    redis::redis_backplane backplane(context, std::move(owned), 10s);
    null_handler handler;
    backplane.start(handler);
    if (options.self_subscribe) {
        // Before connecting: connected() then waits for Redis to confirm it.
        backplane.subscribe(result.channel);
    }
    if (!run_until(context, 10s, [&] { return backplane.connected(); })) {
        std::fprintf(stderr, "bench redis-publish: no connection to %s within 10 s\n",
                     redis::redact_connection_string(options.redis).c_str());
        return 1;
    }
    for (const auto& s : subscribers) {
        while (!s->ready()) {
            if (s->failed()) {
                std::fprintf(stderr, "bench redis-publish: a subscriber could not connect\n");
                return 1;
            }
            std::this_thread::sleep_for(10ms);
        }
    }

    const auto self = static_cast<int>(getpid());
    const auto generator_before = sample_process(self);
    std::optional<process_sample> server_before;
    if (!options.server_pids.empty()) {
        server_before = sample_servers(options.server_pids);
        if (!server_before) {
            std::fprintf(stderr, "bench redis-publish: a --server-pid is no process to measure\n");
            return 2;
        }
    }

    const auto command_bytes = payload->size() + result.channel.size() + 40;
    const std::uint64_t window = std::max<std::size_t>(1, window_bytes / command_bytes);
    const auto base = client.statistics();
    const auto acknowledged = [&] { return client.statistics().acknowledged - base.acknowledged; };
    reply_clock clock;
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + options.duration;
    auto next_report = start + 1s;
    std::uint64_t last_sent = 0;
    std::uint64_t last_acknowledged = 0;
    std::uint64_t acked = 0;
    std::uint64_t sent = 0;
    for (auto now = start; now < end; now = std::chrono::steady_clock::now()) {
        // Topped up once half the window is answered: a publish per reply would make one
        // write (and one Redis read) per handful of replies.
        const auto room = window - std::min(window, sent - acked);
        const auto allowed = std::min(room >= window / 2 ? room : 0,
                                      publish_budget(options.rate, now - start, sent));
        if (allowed > 0) {
            // From a handler on the context, as the router publishes from its control shard.
            boost::asio::post(context, [&, allowed] {
                const auto now_ns = steady_ns();
                for (std::uint64_t i = 0; i < allowed; ++i) {
                    clock.published(sent++, now_ns);
                    backplane.publish(result.channel, payload);
                }
            });
        } else {
            // Waits for a reply (window full) or the next publish due (rate).
            context.run_one_for(options.rate > 0 ? 1ms : 10ms);
        }
        context.poll();
        acked = acknowledged();
        clock.acknowledged(acked, steady_ns());
        if (now >= next_report) {
            std::fprintf(stderr,
                         "[redis-publish] %.0fs: sent %llu (%llu/s), acknowledged %llu (%llu/s), "
                         "subscribers received %llu\n",
                         std::chrono::duration<double>(now - start).count(),
                         static_cast<unsigned long long>(sent),
                         static_cast<unsigned long long>(sent - last_sent),
                         static_cast<unsigned long long>(acked),
                         static_cast<unsigned long long>(acked - last_acknowledged),
                         static_cast<unsigned long long>(subscribers_received(subscribers)));
            last_sent = sent;
            last_acknowledged = acked;
            next_report += 1s;
        }
    }
    // Drain: the replies to what is in flight; a publish dropped or lost never gets one.
    const auto stats_now = [&] { return client.statistics(); };
    run_until(context, 10s, [&] {
        const auto s = stats_now();
        acked = s.acknowledged - base.acknowledged;
        clock.acknowledged(acked, steady_ns());
        return acked + (s.dropped - base.dropped) + (s.error_replies - base.error_replies) >= sent;
    });
    result.send_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options.server_pids.empty()) {
        if (const auto after = sample_servers(options.server_pids)) {
            result.server_cpu_seconds = after->cpu_seconds - server_before->cpu_seconds;
        }
    }
    if (const auto after = sample_process(self); after && generator_before) {
        result.generator_cpu_seconds = after->cpu_seconds - generator_before->cpu_seconds;
    }
    // The subscribers get the last publications a moment after the publisher's replies.
    const auto expected = acked * subscribers.size();
    for (auto waited = 0ms; subscribers_received(subscribers) < expected && waited < 2s;
         waited += 10ms) {
        std::this_thread::sleep_for(10ms);
    }
    const auto totals = client.statistics();
    result.sent = sent;
    result.acknowledged = acked;
    result.dropped = totals.dropped - base.dropped;
    result.error_replies = totals.error_replies - base.error_replies;
    result.received = subscribers_received(subscribers);
    result.latency = clock.latency();
    if (options.self_subscribe) {
        // Echoes come a moment after the replies, on the other connection.
        run_until(context, 2s, [&] { return backplane.statistics().echoes_filtered >= acked; });
    }
    result.echoes_filtered = backplane.statistics().echoes_filtered;
    backplane.stop();
    subscribers.clear();

    const auto report = to_json(options, result);
    const auto table = redis_publish_markdown_header() + redis_publish_markdown_row(report);
    return print_report(report, table, options.output_json) ? 0 : 1;
}

}  // namespace switchboard::loadgen
