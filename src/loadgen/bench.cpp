#include "loadgen/bench.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

extern char** environ;

namespace switchboard::loadgen {

namespace {

// Descriptors a process keeps for itself beyond its connections (stdio, epoll, eventfds).
constexpr std::size_t reserved_descriptors = 64;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string fixed(double value, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

namespace {

boost::json::object worker_json(const worker_result& r) {
    return {{"connected", r.connected},
            {"connect_failures", r.connect_failures},
            {"closed", r.closed},
            {"sent", r.sent},
            {"publish_rejected", r.publish_rejected},
            {"expected", r.expected},
            {"received", r.received},
            {"on_time", r.on_time},
            {"send_seconds", r.send_seconds},
            {"drain_seconds", r.drain_seconds},
            {"cpu_seconds", r.cpu_seconds},
            {"first_error", r.first_error},
            {"histogram", r.latency.to_json()},
            {"cross_histogram", r.cross_latency.to_json()}};
}

bool merge_worker_json(const boost::json::value& json, worker_result& into) {
    const auto* o = json.if_object();
    if (o == nullptr) {
        return false;
    }
    boost::system::error_code ec;
    const auto number = [&](const char* key) -> std::uint64_t {
        const auto* v = o->if_contains(key);
        if (v == nullptr) {
            ec = make_error_code(boost::json::error::not_found);
            return 0;
        }
        return v->to_number<std::uint64_t>(ec);
    };
    into.connected += number("connected");
    into.connect_failures += number("connect_failures");
    into.closed += number("closed");
    into.sent += number("sent");
    into.publish_rejected += number("publish_rejected");
    into.expected += number("expected");
    into.received += number("received");
    into.on_time += number("on_time");
    if (const auto* seconds = o->if_contains("send_seconds"); seconds && seconds->is_double()) {
        into.send_seconds = std::max(into.send_seconds, seconds->get_double());
    }
    if (const auto* seconds = o->if_contains("drain_seconds"); seconds && seconds->is_double()) {
        into.drain_seconds = std::max(into.drain_seconds, seconds->get_double());
    }
    if (const auto* seconds = o->if_contains("cpu_seconds"); seconds && seconds->is_number()) {
        into.cpu_seconds += seconds->to_number<double>(ec);
    }
    if (const auto* error = o->if_contains("first_error");
        error && error->is_string() && into.first_error.empty()) {
        into.first_error = std::string(error->get_string());
    }
    const auto* h = o->if_contains("histogram");
    const auto* cross = o->if_contains("cross_histogram");
    return !ec && h != nullptr && cross != nullptr && into.latency.merge_json(*h) &&
           into.cross_latency.merge_json(*cross);
}

struct child {
    pid_t pid = -1;
    FILE* from = nullptr;  // its stdout: "ready", then the result line
    FILE* to = nullptr;    // its stdin: "go"
};

expected<child> spawn_worker(const bench_options& options, std::size_t index) {
    int down[2];
    int up[2];
    if (pipe(down) != 0 || pipe(up) != 0) {
        return make_error("pipe failed");
    }
    std::vector<std::string> args = options.command_line;
    args.emplace_back("--worker");
    args.push_back(std::to_string(index));
    args.emplace_back("--run-id");
    args.push_back(options.run_id);
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, down[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, up[1], STDOUT_FILENO);
    for (int fd : {down[0], down[1], up[0], up[1]}) {
        posix_spawn_file_actions_addclose(&actions, fd);
    }
    pid_t pid = -1;
    const int status = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(down[0]);
    close(up[1]);
    if (status != 0) {
        close(down[1]);
        close(up[0]);
        return make_error("could not start a worker process");
    }
    return child{pid, fdopen(up[0], "r"), fdopen(down[1], "w")};
}

std::string read_line(FILE* from) {
    std::string line;
    for (int c = std::fgetc(from); c != EOF && c != '\n'; c = std::fgetc(from)) {
        line.push_back(static_cast<char>(c));
    }
    return line;
}

// The parent of --processes N: starts the workers, opens the window for all of them at once.
expected<worker_result> run_processes(const bench_options& options, bench_result& result) {
    std::vector<child> children;
    for (std::size_t i = 0; i < options.processes; ++i) {
        auto c = spawn_worker(options, i);
        if (!c) {
            return c.get_error();
        }
        children.push_back(*c);
    }
    bool ok = true;
    for (auto& c : children) {
        ok = read_line(c.from) == "ready" && ok;
    }
    if (!options.server_pids.empty()) {
        result.server_connected = sample_servers(options.server_pids);
    }
    for (auto& c : children) {
        std::fputs("go\n", c.to);
        std::fflush(c.to);
    }
    worker_result merged;
    for (auto& c : children) {
        const auto line = read_line(c.from);
        boost::system::error_code ec;
        const auto json = boost::json::parse(line, ec);
        ok = !ec && merge_worker_json(json, merged) && ok;
        std::fclose(c.from);
        std::fclose(c.to);
        int status = 0;
        waitpid(c.pid, &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) {
        return make_error("a worker process failed (see its messages above)");
    }
    return merged;
}

std::string new_run_id() {
    std::random_device random;
    return std::to_string(random() % 1'000'000);
}

}  // namespace

boost::json::object latency_json(const histogram& h) {
    const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    return {{"count", h.count()},
            {"p50", us(h.value_at_percentile(50))},
            {"p99", us(h.value_at_percentile(99))},
            {"p999", us(h.value_at_percentile(99.9))},
            {"max", us(h.max())},
            {"mean", h.mean() / 1000.0}};
}

namespace {

std::optional<process_sample> sample_one(int pid) {
    const auto base = "/proc/" + std::to_string(pid);
    const auto stat = read_file(base + "/stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) {
        return std::nullopt;
    }
    // After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
    std::istringstream fields(stat.substr(paren + 1));
    std::string field;
    double utime = 0;
    double stime = 0;
    for (int number = 3; number <= 15 && fields >> field; ++number) {
        if (number == 14) {
            utime = std::stod(field);
        } else if (number == 15) {
            stime = std::stod(field);
        }
    }
    process_sample sample;
    sample.cpu_seconds = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    std::istringstream status(read_file(base + "/status"));
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with("VmRSS:")) {
            sample.rss_bytes = std::stoull(line.substr(6)) * 1024;
        }
    }
    return sample;
}

// The children of every thread of `pid` (/proc/PID/task/TID/children, Linux 3.5+).
std::vector<int> children_of(int pid) {
    std::vector<int> out;
    std::error_code ec;
    const auto tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
        std::istringstream ids(read_file(task.path().string() + "/children"));
        for (int child = 0; ids >> child;) {
            out.push_back(child);
        }
    }
    return out;
}

}  // namespace

// The process and its descendants: peers run under wrappers (timeout, shell) and nginx does its
// work in worker processes, whose CPU and memory belong to the server all the same.
std::optional<process_sample> sample_process(int pid) {
    auto total = sample_one(pid);
    if (!total) {
        return total;
    }
    std::vector<int> pending = children_of(pid);
    // Bounded: a process tree of a server is small; this guards against a fork storm.
    for (std::size_t visited = 0; !pending.empty() && visited < 4096; ++visited) {
        const int child = pending.back();
        pending.pop_back();
        if (const auto sample = sample_one(child)) {
            total->cpu_seconds += sample->cpu_seconds;
            total->rss_bytes += sample->rss_bytes;
        }
        const auto grandchildren = children_of(child);
        pending.insert(pending.end(), grandchildren.begin(), grandchildren.end());
    }
    return total;
}

std::optional<process_sample> sample_servers(const std::vector<int>& pids) {
    process_sample total;
    for (const int pid : pids) {
        const auto sample = sample_process(pid);
        if (!sample) {
            return std::nullopt;
        }
        total.cpu_seconds += sample->cpu_seconds;
        total.rss_bytes += sample->rss_bytes;
    }
    return total;
}

boost::json::object to_json(const bench_options& options, const bench_result& result) {
    const auto& load = result.load;
    const plan plan(options);
    const auto lost = load.expected > load.received ? load.expected - load.received : 0;
    const auto seconds = std::chrono::duration<double>(options.duration).count();
    const auto per_second = [&](std::uint64_t count) {
        return load.send_seconds > 0 ? static_cast<double>(count) / load.send_seconds : 0.0;
    };
    boost::json::object report{
        {"scenario", scenario_name(options.kind)},
        {"target", system_name(options.system)},
        {"servers", options.urls.size()},
        {"protocol", is_sse(options.kind)                             ? "sse"
                     : options.protocol == client::hub_protocol::json ? "json"
                                                                      : "messagepack"},
        {"stateful", options.stateful},
        {"connections", options.connections},
        {"senders", plan.senders()},
        {"rate_per_sender", options.rate},
        {"message_size", options.message_size},
        {"duration_s", seconds},
        {"deadline_ms", static_cast<double>(options.deadline.count())},
        {"processes", options.processes},
        {"threads", options.threads},
        {"connected", load.connected},
        {"connect_failures", load.connect_failures},
        {"closed_by_server", load.closed},
        {"sent", load.sent},
        {"publish_rejected", load.publish_rejected},
        {"expected", load.expected},
        {"received", load.received},
        {"lost", lost},
        {"deliveries_per_second", per_second(load.received)},
        {"on_time", load.on_time},
        {"on_time_deliveries_per_second", per_second(load.on_time)},
        {"latency_us", latency_json(load.latency)},
    };
    if (is_sse(options.kind)) {
        report["channels"] = std::max<std::size_t>(1, options.channels);
    }
    // Only a run over several instances has receivers on another instance than the sender's.
    if (options.urls.size() > 1) {
        report["cross_instance"] = {{"received", load.cross_latency.count()},
                                    {"latency_us", latency_json(load.cross_latency)}};
    }
    // The window and the drain: a generator near `threads` busy cores was the bottleneck.
    const auto busy_seconds = load.send_seconds + load.drain_seconds;
    report["generator"] = {
        {"cpu_seconds", load.cpu_seconds},
        {"cpu_cores", busy_seconds > 0 ? load.cpu_seconds / busy_seconds : 0.0},
        {"cpu_seconds_per_million_deliveries",
         load.received > 0 ? load.cpu_seconds / (static_cast<double>(load.received) / 1e6) : 0.0},
    };
    if (!load.first_error.empty()) {
        report["first_error"] = load.first_error;
    }
    boost::json::object server;
    if (result.server_before && result.server_connected && result.server_after) {
        const auto cpu = result.server_after->cpu_seconds - result.server_connected->cpu_seconds;
        server["cpu_seconds"] = cpu;
        server["cpu_seconds_per_million_deliveries"] =
            load.received > 0 ? cpu / (static_cast<double>(load.received) / 1e6) : 0.0;
        server["rss_before_bytes"] = result.server_before->rss_bytes;
        server["rss_connected_bytes"] = result.server_connected->rss_bytes;
        server["rss_after_bytes"] = result.server_after->rss_bytes;
        const auto growth = static_cast<double>(result.server_connected->rss_bytes) -
                            static_cast<double>(result.server_before->rss_bytes);
        server["rss_per_connection_bytes"] =
            load.connected > 0 ? growth / static_cast<double>(load.connected) : 0.0;
    }
    report["server"] = std::move(server);
    return report;
}

std::string markdown_header() {
    return "| scenario | protocol | connections | senders | rate/sender | size | deliveries/s | "
           "on-time/s | p50 ms | p99 ms | p99.9 ms | cross-instance p50/p99/p99.9 ms | lost | "
           "server CPU s per 1M | server RSS/conn |\n"
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
           "---: | ---: | ---: |\n";
}

std::string markdown_row(const boost::json::object& report) {
    const auto text = [&](const char* key) { return boost::json::serialize(report.at(key)); };
    const auto number = [&](const boost::json::value& v) {
        boost::system::error_code ec;
        const auto d = v.to_number<double>(ec);
        return ec ? 0.0 : d;
    };
    const auto ms_of = [&](const boost::json::object& latency, const char* key) {
        return fixed(number(latency.at(key)) / 1000.0, 2);
    };
    const auto& latency = report.at("latency_us").as_object();
    const auto ms = [&](const char* key) { return ms_of(latency, key); };
    std::string cross = "-";
    if (const auto* v = report.if_contains("cross_instance")) {
        const auto& cross_latency = v->as_object().at("latency_us").as_object();
        cross = ms_of(cross_latency, "p50");
        cross.append(" / ").append(ms_of(cross_latency, "p99"));
        cross.append(" / ").append(ms_of(cross_latency, "p999"));
    }
    const auto& server = report.at("server").as_object();
    std::string cpu = "-";
    std::string rss = "-";
    if (const auto* v = server.if_contains("cpu_seconds_per_million_deliveries")) {
        cpu = fixed(number(*v), 2);
    }
    if (const auto* v = server.if_contains("rss_per_connection_bytes")) {
        rss = fixed(number(*v) / 1024.0, 1) + " KiB";
    }
    std::string row =
        "| " + std::string(report.at("scenario").as_string()) + " | " +
        std::string(report.at("protocol").as_string()) + " | " + text("connections") + " | " +
        text("senders") + " | " + fixed(number(report.at("rate_per_sender")), 1) + " | " +
        text("message_size") + " | " + fixed(number(report.at("deliveries_per_second")), 0) +
        " | " + fixed(number(report.at("on_time_deliveries_per_second")), 0) + " | " + ms("p50") +
        " | " + ms("p99") + " | " + ms("p999") + " | " + cross + " | " + text("lost") + " | " +
        cpu + " | " + rss + " |\n";
    return row;
}

bool print_report(const boost::json::object& report, const std::string& table,
                  const std::string& output_json) {
    const auto json = boost::json::serialize(report);
    if (output_json == "-") {
        std::printf("%s\n", json.c_str());
        std::fputs(table.c_str(), stderr);
        return true;
    }
    if (!output_json.empty()) {
        std::ofstream out(output_json);
        out << json << '\n';
        if (!out) {
            std::fprintf(stderr, "bench: could not write %s\n", output_json.c_str());
            return false;
        }
    }
    std::fputs(table.c_str(), stdout);
    return true;
}

int run_bench(bench_options options) {
    // A worker that died early must not kill its parent when it writes "go" to the pipe.
    std::signal(SIGPIPE, SIG_IGN);
    for (const auto& url : options.urls) {
        if (auto server = parse_target(url); !server) {
            std::fprintf(stderr, "bench: %s\n", server.error_message().c_str());
            return 2;
        }
    }
    if (options.urls.empty()) {
        std::fprintf(stderr, "bench: --url: at least one server\n");
        return 2;
    }
    if (const auto why = unsupported(options.system, options.kind)) {
        std::fprintf(stderr, "bench: %s\n", why->c_str());
        return 2;
    }
    if (options.stateful && (options.system != system_kind::switchboard || is_sse(options.kind))) {
        std::fprintf(stderr, "bench: --stateful: Switchboard hub scenarios only\n");
        return 2;
    }
    if (auto sources = parse_source_addresses(options.source_addresses); !sources) {
        std::fprintf(stderr, "bench: %s\n", sources.error_message().c_str());
        return 2;
    }
    options.processes = std::max<std::size_t>(1, options.processes);
    const auto per_process = (options.connections + options.processes - 1) / options.processes;
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    if (files.rlim_cur != RLIM_INFINITY && per_process + reserved_descriptors > files.rlim_cur) {
        std::fprintf(stderr,
                     "bench: %zu connections per process exceed the descriptor limit (%llu): "
                     "use --processes %zu or more\n",
                     per_process, static_cast<unsigned long long>(files.rlim_cur),
                     options.connections /
                             (static_cast<std::size_t>(files.rlim_cur) - reserved_descriptors) +
                         1);
        return 2;
    }

    if (options.worker_index) {
        // A worker: its share of the connections, the barrier over its stdin and stdout.
        const auto index = *options.worker_index;
        const auto first = options.connections * index / options.processes;
        const auto last = options.connections * (index + 1) / options.processes;
        auto load = run_worker(
            options, first, last - first,
            [](const worker_result&) {
                std::fputs("ready\n", stdout);
                std::fflush(stdout);
                std::string line;
                for (int c = std::getchar(); c != EOF && c != '\n'; c = std::getchar()) {
                    line.push_back(static_cast<char>(c));
                }
            },
            "bench w" + std::to_string(index));
        if (!load) {
            std::fprintf(stderr, "bench: %s\n", load.error_message().c_str());
            std::fputs("{}\n", stdout);
            return 1;
        }
        std::printf("%s\n", boost::json::serialize(worker_json(*load)).c_str());
        return 0;
    }

    if (options.run_id.empty()) {
        options.run_id = new_run_id();
    }
    bench_result result;
    if (!options.server_pids.empty()) {
        result.server_before = sample_servers(options.server_pids);
        if (!result.server_before) {
            std::fprintf(stderr, "bench: a --server-pid is no process to measure\n");
            return 2;
        }
    }
    auto load = options.processes == 1
                    ? run_worker(
                          options, 0, options.connections,
                          [&](const worker_result&) {
                              if (!options.server_pids.empty()) {
                                  result.server_connected = sample_servers(options.server_pids);
                              }
                          },
                          "bench")
                    : run_processes(options, result);
    if (!load) {
        std::fprintf(stderr, "bench: %s\n", load.error_message().c_str());
        return 1;
    }
    result.load = std::move(*load);
    if (!options.server_pids.empty()) {
        result.server_after = sample_servers(options.server_pids);
    }
    const auto report = to_json(options, result);
    if (!print_report(report, markdown_header() + markdown_row(report), options.output_json)) {
        return 1;
    }
    if (!result.load.first_error.empty()) {
        std::fprintf(stderr, "bench: first connection error: %s\n",
                     result.load.first_error.c_str());
    }
    return 0;
}

}  // namespace switchboard::loadgen
