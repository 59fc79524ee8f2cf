#include "apps/doctor.hpp"

#include "http/tls.hpp"
#include "loadgen/bus_instance.hpp"
#include "loadgen/scenario.hpp"
#include "routing/scaleout/channels.hpp"
#include "server/backends.hpp"
#include "server/instance.hpp"

#ifdef SWITCHBOARD_BACKPLANE_REDIS
#include "routing/redis/connection_string.hpp"

#include <hiredis/hiredis.h>
#endif

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace switchboard::apps {
namespace {

using namespace std::chrono_literals;

// Each network check gives up after this long: a healthy bus answers in milliseconds, a
// firewalled one never does.
constexpr auto network_timeout = 5s;
// Descriptors the server holds besides client sockets: listener, bus connections, event fds
// per shard, log files, with headroom.
constexpr std::size_t reserved_descriptors = 64;
// Without --max-connections the descriptor limit is the capacity; below this a busy instance
// runs out (Debian's default soft limit is 1,024).
constexpr std::size_t recommended_descriptors = 65'536;

class report {
public:
    void ok(const std::string& what) { std::printf("ok    %s\n", what.c_str()); }
    void warn(const std::string& what, const std::string& fix) {
        std::printf("warn  %s\n      fix: %s\n", what.c_str(), fix.c_str());
    }
    void fail(const std::string& what, const std::string& fix) {
        std::printf("FAIL  %s\n      fix: %s\n", what.c_str(), fix.c_str());
        ++failures_;
    }
    [[nodiscard]] int failures() const { return failures_; }

private:
    int failures_ = 0;
};

std::string milliseconds_text(double ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f ms", ms);
    return text;
}

void check_descriptors(const server_options& options, report& out) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        out.warn("descriptor limit: unknown (getrlimit failed)", "check `ulimit -n`");
        return;
    }
    const auto soft = static_cast<std::size_t>(limit.rlim_cur);
    const std::string raise =
        "raise the limit: LimitNOFILE=1048576 in the systemd unit, `ulimit -n 1048576` in the "
        "shell, --ulimit nofile=1048576 for docker";
    if (options.max_connections == 0) {
        if (soft < recommended_descriptors) {
            out.warn(
                "descriptor limit " + std::to_string(soft) + " caps this instance at about " +
                    std::to_string(soft > reserved_descriptors ? soft - reserved_descriptors : 0) +
                    " connections, and --max-connections is 0 (unlimited): accepts fail "
                    "past it",
                raise + ", and set --max-connections below it");
        } else {
            out.ok("descriptor limit " + std::to_string(soft) +
                   " (--max-connections 0: set it from a load test)");
        }
        return;
    }
    const auto needed = options.max_connections + reserved_descriptors;
    if (soft < needed) {
        out.fail("descriptor limit " + std::to_string(soft) + " is below the " +
                     std::to_string(needed) + " that --max-connections " +
                     std::to_string(options.max_connections) + " needs",
                 raise + ", or lower --max-connections to " +
                     std::to_string(soft > reserved_descriptors ? soft - reserved_descriptors : 0));
        return;
    }
    out.ok("descriptor limit " + std::to_string(soft) + " covers --max-connections " +
           std::to_string(options.max_connections));
}

void check_listen(const server_options& options, report& out) {
    boost::asio::ip::tcp::endpoint endpoint;
    try {
        endpoint = parse_listen_address(options.listen);
    } catch (const std::exception& e) {
        out.fail(e.what(), "--listen HOST:PORT, e.g. 0.0.0.0:5000");
        return;
    }
    if (endpoint.port() == 0) {
        out.ok("--listen " + options.listen + ": port 0, any free port");
        return;
    }
    boost::asio::io_context context;
    boost::asio::ip::tcp::acceptor acceptor(context);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        // As the server binds: a port in TIME_WAIT from the last run is free.
        acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        out.fail("--listen " + options.listen + ": cannot bind: " + ec.message(),
                 ec == boost::asio::error::address_in_use
                     ? "stop what listens there (`ss -ltnp 'sport = :" +
                           std::to_string(endpoint.port()) + "'`) or choose another --listen"
                     : "choose an address of this machine, and a port above 1023 unless the "
                       "unit grants CAP_NET_BIND_SERVICE");
        return;
    }
    out.ok("--listen " + options.listen + " is free");
}

void check_tls(const server_options& options, report& out) {
    if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
        out.ok("TLS: off (plain http; terminate TLS in front, or set --tls-cert)");
        return;
    }
    try {
        (void)http::make_server_tls_context(options.tls_cert_file, options.tls_key_file);
        out.ok("TLS: certificate " + options.tls_cert_file + " and its key load and match");
    } catch (const std::exception& e) {
        out.fail(std::string("TLS: ") + e.what(),
                 "make the PEM files readable by the service user, and give the key of the "
                 "certificate (--tls-key)");
    }
}

void check_static_dir(const server_options& options, report& out) {
    if (options.static_dir.empty()) {
        return;
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(options.static_dir, ec)) {
        out.warn("--static-dir " + options.static_dir + " is not a directory: / answers 404",
                 "point --static-dir at the demo app (e.g. /usr/local/share/switchboard/web), "
                 "or set it empty");
        return;
    }
    out.ok("--static-dir " + options.static_dir);
}

// Publishes a few messages on one connection to the bus and times their arrival on another,
// as between two instances.
void check_backplane(const server_options& options, report& out) {
    const auto name = backplanes().name_of(options.backplane);
    const auto shown = backplanes().redact(options.backplane);
    if (name == "memory") {
        out.ok("backplane: memory (one instance; set --backplane to scale out)");
        return;
    }
    boost::asio::io_context context;
    auto work = boost::asio::make_work_guard(context);
    const auto make = [&](boost::asio::io_context& on) {
        routing::backplane_settings settings;
        settings.control = &on;
        settings.max_buffered_bytes = options.backplane_buffer_size;
        settings.database_schema = options.postgres_schema;
        return backplanes().make(options.backplane, settings);
    };
    const std::string fix = "check that " + shown +
                            " is reachable from this host (firewall, DNS, password, TLS), "
                            "and that the bus is running";
    routing::made_backplane made;
    try {
        made = make(context);
    } catch (const std::exception& e) {
        out.fail(std::string("backplane: ") + e.what(), "correct --backplane");
        return;
    }
    const auto prefix = options.channel_prefix.value_or(made.channel_prefix);
    const auto channel = routing::scaleout::channels(prefix, "switchboard-doctor").all();
    loadgen::null_handler handler;
    made.bus->start(handler);
    if (!loadgen::run_until(context, network_timeout, [&] { return made.bus->connected(); })) {
        made.bus->stop();
        out.fail("backplane " + shown + ": no connection within 5 s", fix);
        return;
    }
    std::unique_ptr<loadgen::bus_instance> receiver;
    try {
        receiver = std::make_unique<loadgen::bus_instance>(
            [&](boost::asio::io_context& on) { return make(on).bus; }, channel);
    } catch (const std::exception& e) {
        made.bus->stop();
        out.fail(std::string("backplane: ") + e.what(), fix);
        return;
    }
    const auto deadline = std::chrono::steady_clock::now() + network_timeout;
    while (!receiver->ready() && !receiver->failed() &&
           std::chrono::steady_clock::now() < deadline) {
        context.run_one_for(10ms);
    }
    if (!receiver->ready()) {
        made.bus->stop();
        out.fail("backplane " + shown + ": a second connection could not subscribe", fix);
        return;
    }
    constexpr int probes = 5;
    auto payload = loadgen::broadcast_payload(64);
    const auto stamp_at = loadgen::broadcast_stamp_offset(payload);
    for (int i = 0; i < probes; ++i) {
        loadgen::stamp_broadcast(payload, stamp_at, loadgen::steady_ns());
        made.bus->publish(channel, make_shared_buffer(payload));
        loadgen::run_until(context, network_timeout,
                           [&] { return receiver->received() > static_cast<std::uint64_t>(i); });
    }
    const auto received = receiver->received();
    made.bus->stop();
    context.poll();
    if (received < probes) {
        out.fail("backplane " + shown + ": " + std::to_string(received) + " of " +
                     std::to_string(probes) + " publications came back within 5 s",
                 fix + "; for Redis, that pub/sub is allowed (ACL &* channels)");
        return;
    }
    const auto latency = receiver->latency();
    out.ok("backplane " + name + " " + shown + ": reachable, publish to delivery " +
           milliseconds_text(static_cast<double>(latency.value_at_percentile(50)) / 1000.0) +
           " median, " + milliseconds_text(static_cast<double>(latency.max()) / 1000.0) +
           " max of " + std::to_string(probes));
}

#ifdef SWITCHBOARD_BACKPLANE_REDIS
// Redis's TIME against ours, halfway through the round trip: instances whose clocks disagree
// accept and refuse the same JWT at different moments.
void check_clock(const server_options& options, report& out) {
    auto parsed = routing::redis::parse_connection_string(options.backplane);
    if (!parsed) {
        return;
    }
    if (parsed->tls) {
        out.ok("clock: not compared with Redis over TLS (check NTP: timedatectl)");
        return;
    }
    const timeval timeout{5, 0};
    std::unique_ptr<redisContext, decltype(&redisFree)> redis(
        redisConnectWithTimeout(parsed->host.c_str(), parsed->port, timeout), &redisFree);
    if (!redis || redis->err != 0) {
        out.fail("clock: cannot reach Redis to compare clocks", "see the backplane check above");
        return;
    }
    using reply_ptr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;
    if (!parsed->password.empty()) {
        reply_ptr auth(static_cast<redisReply*>(
                           parsed->user.empty()
                               ? redisCommand(redis.get(), "AUTH %s", parsed->password.c_str())
                               : redisCommand(redis.get(), "AUTH %s %s", parsed->user.c_str(),
                                              parsed->password.c_str())),
                       &freeReplyObject);
        if (!auth || auth->type == REDIS_REPLY_ERROR) {
            out.fail("clock: Redis refused the password", "correct the password in --backplane");
            return;
        }
    }
    const auto before = std::chrono::system_clock::now();
    reply_ptr time(static_cast<redisReply*>(redisCommand(redis.get(), "TIME")), &freeReplyObject);
    const auto after = std::chrono::system_clock::now();
    if (!time || time->type != REDIS_REPLY_ARRAY || time->elements != 2) {
        out.warn("clock: Redis did not answer TIME", "allow TIME for this user (ACL +time)");
        return;
    }
    const auto redis_time = std::chrono::seconds(std::stoll(time->element[0]->str)) +
                            std::chrono::microseconds(std::stoll(time->element[1]->str));
    const auto ours = before.time_since_epoch() + (after - before) / 2;
    const auto skew = std::chrono::duration_cast<std::chrono::milliseconds>(ours - redis_time);
    const auto magnitude = skew < 0ms ? -skew : skew;
    const std::string text = "clock: " + std::to_string(skew.count()) + " ms from Redis's";
    if (magnitude > options.auth.clock_skew) {
        out.fail(text + ", beyond --jwt-clock-skew " +
                     std::to_string(options.auth.clock_skew.count()) +
                     " ms: tokens expire early or late here",
                 "synchronise the clocks (systemd-timesyncd or chrony on every host)");
        return;
    }
    out.ok(text);
}
#endif

}  // namespace

int run_doctor(const server_options& options) {
    report out;
    std::printf("switchboard doctor: checking serve's settings on this machine\n");
    check_descriptors(options, out);
    check_listen(options, out);
    check_tls(options, out);
    check_static_dir(options, out);
    check_backplane(options, out);
#ifdef SWITCHBOARD_BACKPLANE_REDIS
    if (backplanes().name_of(options.backplane) == "redis") {
        check_clock(options, out);
    }
#endif
    if (out.failures() > 0) {
        std::printf("%d check(s) failed\n", out.failures());
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}

}  // namespace switchboard::apps
