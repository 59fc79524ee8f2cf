// `switchboard bench backplane-publish`: one instance's broadcasts published on any bus
// (--backplane, built as serve builds it) and received by other instances' backplanes: what
// the bus carries per second from one publisher, and the publish-to-receipt latency.
#pragma once

#include "loadgen/histogram.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::loadgen {

struct backplane_publish_options {
    std::string backplane;  // a --backplane spec naming loopback hosts only
    std::chrono::milliseconds duration{10'000};
    // Bytes of the text argument of ReceiveMessage, as --message-size of the hub scenarios.
    std::size_t message_size = 256;
    // Publishes per second; 0: as fast as the bus delivers (a window of publications not yet
    // received by the first subscriber).
    double rate = 0;
    // Other instances subscribed to the hub's all channel, each a backplane on its own thread;
    // at least one, since its receipts are the measurement.
    std::size_t subscribers = 1;
    std::vector<int> server_pids;  // the bus's server processes, for their CPU time
    std::string output_json;       // file, "-" for stdout
    std::string hub = "chat";      // the backplane name of the hub (its channels)
    // --backplane-buffer-size of the instances.
    std::size_t buffer_bytes = 16 * 1024 * 1024;
};

// Why the options cannot run, or nothing. Hosts are checked in every spec form the buses take
// (URLs, lists of them, key=value strings): the generator loads this machine only.
std::optional<std::string> check(const backplane_publish_options& options);

struct backplane_publish_result {
    std::string bus;             // the factory's name for it: "redis", "postgres", "nats"
    std::uint64_t sent = 0;      // publish() calls in the window
    std::uint64_t received = 0;  // by the first subscriber
    std::uint64_t dropped = 0;   // counted by the publisher's bus (buffer full, too large)
    // Neither received nor dropped: a stalled window gave up on them (at-most-once buses).
    std::uint64_t lost = 0;
    std::size_t payload_bytes = 0;
    double send_seconds = 0;  // the window, until the last receipt or its end
    histogram latency;        // publish to receipt, every publication
    std::optional<double> server_cpu_seconds;
    double generator_cpu_seconds = 0;  // this process, subscribers included
};

boost::json::object to_json(const backplane_publish_options& options,
                            const backplane_publish_result& result);
std::string backplane_publish_markdown_header();
std::string backplane_publish_markdown_row(const boost::json::object& report);

// Builds the buses, runs the window, prints progress every second, reports; the exit status.
int run_backplane_publish(const backplane_publish_options& options);

}  // namespace switchboard::loadgen
