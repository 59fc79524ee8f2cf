// One generator process's share of the connections: threads, each with its own io_context,
// connect, join groups, send at the planned rate and time every delivery.
#pragma once

#include "loadgen/histogram.hpp"
#include "loadgen/scenario.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace switchboard::loadgen {

struct worker_result {
    std::uint64_t connected = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t closed = 0;  // open connections the server (or the network) ended
    std::uint64_t sent = 0;
    // HTTP publishes the server answered with other than 2xx (Nchan, sse): their deliveries
    // are missing from `received`, and this says why.
    std::uint64_t publish_rejected = 0;
    std::uint64_t expected = 0;  // deliveries the sent messages should make, process-wide
    std::uint64_t received = 0;
    std::uint64_t on_time = 0;  // received within options.deadline
    double send_seconds = 0;    // the send window as it really ran
    double drain_seconds = 0;   // and the drain after it
    // The generator's own CPU over the window and the drain: near threads x seconds, it was
    // the bottleneck, not the server.
    double cpu_seconds = 0;
    histogram latency;        // nanoseconds from send to delivery
    histogram cross_latency;  // the deliveries to an instance other than the sender's
    std::string first_error;  // why the first connection failed, for the report
};

// Called once every connection of this process is up (and in its groups) and the hub's own
// traffic (UserConnected, UserJoinedGroup) has died down; it returns when sending may start.
using ready_barrier = std::function<void(const worker_result& so_far)>;

// Connects connections [first, first + count) of the plan, waits on `barrier`, sends for
// options.duration, drains, closes everything. `label` prefixes the progress lines on stderr.
expected<worker_result> run_worker(const bench_options& options, std::size_t first,
                                   std::size_t count, const ready_barrier& barrier,
                                   const std::string& label);

}  // namespace switchboard::loadgen
