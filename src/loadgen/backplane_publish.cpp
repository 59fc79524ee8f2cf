#include "loadgen/backplane_publish.hpp"

#include "core/ascii.hpp"
#include "loadgen/bench.hpp"
#include "loadgen/bus_instance.hpp"
#include "routing/scaleout/channels.hpp"
#include "server/backends.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

namespace switchboard::loadgen {

namespace {

using namespace std::chrono_literals;
namespace scaleout = routing::scaleout;

// Publications not yet received, in bytes: enough to keep a bus busy while its deliveries
// travel back, far below the instances' buffer (16 MiB), so the window itself drops nothing.
constexpr std::size_t window_bytes = 512 * 1024;
// A window that received nothing for this long gives up on what it waits for: an
// at-most-once bus may lose a publication, and the run must go on.
constexpr auto stall_limit = 2s;

template <class F>
void split(std::string_view text, std::string_view separators, F each) {
    while (!text.empty()) {
        const auto at = text.find_first_of(separators);
        if (const auto item = ascii_trim(text.substr(0, at)); !item.empty()) {
            each(item);
        }
        if (at == std::string_view::npos) {
            break;
        }
        text.remove_prefix(at + 1);
    }
}

// "host", "host:port", "[v6]:port", "scheme://user:pass@host:port/path?query" -> host.
std::string_view host_of(std::string_view item) {
    if (const auto scheme = item.find("://"); scheme != std::string_view::npos) {
        item.remove_prefix(scheme + 3);
    }
    item = item.substr(0, item.find_first_of("/?"));
    if (const auto at = item.rfind('@'); at != std::string_view::npos) {
        item.remove_prefix(at + 1);
    }
    if (!item.empty() && item.front() == '[') {
        return item.substr(1, item.find(']') - 1);
    }
    return item.substr(0, item.find(':'));
}

bool is_host_key(std::string_view key) {
    for (const auto* name : {"host", "server", "hostaddr"}) {
        if (ascii_iequals(key, name)) {
            return true;
        }
    }
    return false;
}

// Every host a spec names, in each form the buses take: URL lists (Redis, NATS, PostgreSQL
// URLs), "Key=value;..." (Npgsql), "key=value ..." (libpq), "host:port,opt=..." (StackExchange).
std::vector<std::string> hosts_of(std::string_view spec) {
    std::vector<std::string> hosts;
    const auto add = [&](std::string_view item) { hosts.emplace_back(host_of(item)); };
    const auto key_value = [&](std::string_view item) {
        const auto eq = item.find('=');
        if (is_host_key(ascii_trim(item.substr(0, eq)))) {
            split(item.substr(eq + 1), ",", add);
        }
    };
    if (spec.find("://") != std::string_view::npos) {
        split(spec, ",", add);
    } else if (spec.find(';') != std::string_view::npos) {
        split(spec, ";", key_value);
    } else if (const auto first = spec.substr(0, spec.find_first_of(", "));
               first.find('=') != std::string_view::npos) {
        split(spec, " \t", key_value);
    } else {
        split(spec, ",", [&](std::string_view item) {
            if (item.find('=') == std::string_view::npos) {
                add(item);
            }
        });
    }
    return hosts;
}

bool is_loopback(const std::string& host) {
    if (host == "localhost" || host.empty() || host.front() == '/') {
        return true;  // empty or a path: a Unix socket, this machine
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(host, ec);
    return !ec && address.is_loopback();
}

routing::made_backplane make_bus(const backplane_publish_options& options,
                                 boost::asio::io_context& context) {
    routing::backplane_settings settings;
    settings.control = &context;
    settings.max_buffered_bytes = options.buffer_bytes;
    return backplanes().make(options.backplane, settings);
}

}  // namespace

std::optional<std::string> check(const backplane_publish_options& options) {
    if (options.backplane.empty() || options.backplane == "memory") {
        return "--backplane: a bus shared between processes (redis, postgres, nats)";
    }
    for (const auto& host : hosts_of(options.backplane)) {
        if (!is_loopback(host)) {
            return "--backplane: '" + host +
                   "' is not a loopback address: the generator loads this machine only";
        }
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
    if (options.subscribers < 1 || options.subscribers > 64) {
        return "--subscribers: 1 to 64";
    }
    return std::nullopt;
}

boost::json::object to_json(const backplane_publish_options& options,
                            const backplane_publish_result& result) {
    const auto per_million = [&](double seconds) {
        return result.received > 0 ? seconds / (static_cast<double>(result.received) / 1e6) : 0.0;
    };
    boost::json::object report{
        {"scenario", "backplane-publish"},
        {"bus", result.bus},
        {"backplane", backplanes().redact(options.backplane)},
        {"message_size", options.message_size},
        {"payload_bytes", result.payload_bytes},
        {"rate", options.rate},
        {"duration_s", std::chrono::duration<double>(options.duration).count()},
        {"subscribers", options.subscribers},
        {"sent", result.sent},
        {"received", result.received},
        {"dropped", result.dropped},
        {"lost", result.lost},
        {"send_seconds", result.send_seconds},
        {"publishes_per_second", result.send_seconds > 0
                                     ? static_cast<double>(result.received) / result.send_seconds
                                     : 0.0},
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

std::string backplane_publish_markdown_header() {
    return "| bus | subscribers | payload B | rate | publishes/s | p50 ms | p99 ms | "
           "received/sent | dropped | bus CPU s per 1M |\n"
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
}

std::string backplane_publish_markdown_row(const boost::json::object& report) {
    const auto text = [&](const char* key) {
        const auto& v = report.at(key);
        return v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v);
    };
    const auto& latency = report.at("latency_us").as_object();
    const auto ms = [&](const char* key) { return fixed(number_of(latency.at(key)) / 1000.0, 2); };
    std::string cpu = "-";
    if (const auto* v =
            report.at("server").as_object().if_contains("cpu_seconds_per_million_publishes")) {
        cpu = fixed(number_of(*v), 2);
    }
    const auto rate = number_of(report.at("rate"));
    std::string row = "| ";
    row.append(text("bus"))
        .append(" | ")
        .append(text("subscribers"))
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
        .append(text("received"))
        .append("/")
        .append(text("sent"))
        .append(" | ")
        .append(text("dropped"))
        .append(" | ")
        .append(cpu)
        .append(" |\n");
    return row;
}

int run_backplane_publish(const backplane_publish_options& options) {
    if (const auto why = check(options)) {
        std::fprintf(stderr, "bench backplane-publish: %s\n", why->c_str());
        return 2;
    }
    boost::asio::io_context context;
    auto work = boost::asio::make_work_guard(context);  // as in subscriber
    routing::made_backplane made;
    std::vector<std::unique_ptr<bus_instance>> subscribers;
    std::string channel;
    try {
        made = make_bus(options, context);
        channel = scaleout::channels(made.channel_prefix, options.hub).all();
        for (std::size_t i = 0; i < options.subscribers; ++i) {
            subscribers.push_back(std::make_unique<bus_instance>(
                [&](boost::asio::io_context& c) { return make_bus(options, c).bus; }, channel));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench backplane-publish: %s\n", e.what());
        return 2;
    }
    backplane_publish_result result;
    result.bus = backplanes().name_of(options.backplane);
    auto& bus = *made.bus;
    null_handler handler;
    bus.start(handler);
    if (!run_until(context, 15s, [&] { return bus.connected(); })) {
        std::fprintf(stderr, "bench backplane-publish: no connection to %s within 15 s\n",
                     backplanes().redact(options.backplane).c_str());
        return 1;
    }
    for (const auto& s : subscribers) {
        while (!s->ready()) {
            if (s->failed()) {
                std::fprintf(stderr, "bench backplane-publish: a subscriber could not connect\n");
                return 1;
            }
            std::this_thread::sleep_for(10ms);
        }
    }

    auto payload_text = broadcast_payload(options.message_size);
    result.payload_bytes = payload_text.size();
    const auto stamp_at = broadcast_stamp_offset(payload_text);
    const auto self = static_cast<int>(getpid());
    const auto generator_before = sample_process(self);
    std::optional<process_sample> server_before;
    if (!options.server_pids.empty()) {
        server_before = sample_servers(options.server_pids);
        if (!server_before) {
            std::fprintf(stderr,
                         "bench backplane-publish: a --server-pid is no process to measure\n");
            return 2;
        }
    }

    auto& first = *subscribers.front();
    const std::uint64_t window =
        std::max<std::size_t>(1, window_bytes / (result.payload_bytes + channel.size()));
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + options.duration;
    auto next_report = start + 1s;
    auto last_progress = start;
    std::uint64_t sent = 0;
    std::uint64_t given_up = 0;  // publications the window stopped waiting for
    std::uint64_t last_received = 0;
    std::uint64_t reported_received = 0;
    std::uint64_t reported_sent = 0;
    const auto settled = [&] { return first.received() + bus.dropped_publications() + given_up; };
    for (auto now = start; now < end; now = std::chrono::steady_clock::now()) {
        const auto received = first.received();
        if (received != last_received) {
            last_progress = now;
        }
        const auto in_flight = sent - std::min(sent, settled());
        if (in_flight > 0 && now - last_progress > stall_limit) {
            given_up += in_flight;
            last_progress = now;
        }
        // Topped up once half the window is through: one publication per receipt would make
        // a bus write per handful of messages.
        const auto room = window - std::min(window, in_flight);
        const auto allowed = std::min(room >= window / 2 ? room : 0,
                                      publish_budget(options.rate, now - start, sent));
        if (allowed > 0) {
            // From a handler on the context, as the router publishes from its control shard.
            boost::asio::post(context, [&, allowed] {
                for (std::uint64_t i = 0; i < allowed; ++i) {
                    // Each publication carries its own send time (and so differs from the last).
                    stamp_broadcast(payload_text, stamp_at, steady_ns());
                    bus.publish(channel, make_shared_buffer(payload_text));
                    ++sent;
                }
            });
        } else {
            context.run_one_for(options.rate > 0 ? 1ms : 5ms);
        }
        context.poll();
        if (now >= next_report) {
            std::fprintf(stderr,
                         "[backplane-publish] %.0fs: sent %llu (%llu/s), received %llu (%llu/s), "
                         "dropped %llu\n",
                         std::chrono::duration<double>(now - start).count(),
                         static_cast<unsigned long long>(sent),
                         static_cast<unsigned long long>(sent - reported_sent),
                         static_cast<unsigned long long>(received),
                         static_cast<unsigned long long>(received - reported_received),
                         static_cast<unsigned long long>(bus.dropped_publications()));
            reported_sent = sent;
            reported_received = received;
            next_report += 1s;
        }
        last_received = received;
    }
    // Drain: what is in flight arrives within moments on a healthy bus.
    run_until(context, 5s, [&] { return settled() >= sent; });
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
    result.sent = sent;
    result.received = first.received();
    result.dropped = bus.dropped_publications();
    result.lost = sent - std::min(sent, result.received + result.dropped);
    result.latency = first.latency();
    bus.stop();
    subscribers.clear();

    const auto report = to_json(options, result);
    const auto table = backplane_publish_markdown_header() + backplane_publish_markdown_row(report);
    return print_report(report, table, options.output_json) ? 0 : 1;
}

}  // namespace switchboard::loadgen
