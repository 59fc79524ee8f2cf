// `switchboard bench`: runs a scenario over one or several generator processes, merges their
// results, reads the server's CPU and memory, and reports JSON and a markdown table row.
#pragma once

#include "loadgen/histogram.hpp"
#include "loadgen/scenario.hpp"
#include "loadgen/worker.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace switchboard::loadgen {

// What /proc says about the server process.
struct process_sample {
    double cpu_seconds = 0;  // user + system
    std::uint64_t rss_bytes = 0;
};
std::optional<process_sample> sample_process(int pid);
// The sum over several servers (the instances of a scaled-out system); nothing if one is gone.
std::optional<process_sample> sample_servers(const std::vector<int>& pids);

struct bench_result {
    worker_result load;                              // merged over the worker processes
    std::optional<process_sample> server_before;     // before connecting
    std::optional<process_sample> server_connected;  // connected, window about to open
    std::optional<process_sample> server_after;      // window and drain over
};

// Runs the scenario; a worker process (options.worker_index set) instead reports to its parent
// on stdout. Returns the exit status. Errors in the options are returned before any load.
int run_bench(bench_options options);

// The report, public for the tests and the other benches (redis_publish).
std::string fixed(double value, int digits);
// count, p50, p99, p999, max and mean, in microseconds.
boost::json::object latency_json(const histogram& h);
// The JSON report to `output_json` (a file; "-": stdout, the table then to stderr), and the
// markdown table to stdout. False, with a message, when the file could not be written.
bool print_report(const boost::json::object& report, const std::string& table,
                  const std::string& output_json);
boost::json::object to_json(const bench_options& options, const bench_result& result);
std::string markdown_header();
std::string markdown_row(const boost::json::object& report);

}  // namespace switchboard::loadgen
