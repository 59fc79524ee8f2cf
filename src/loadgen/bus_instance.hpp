// What the publish benches share: the chat broadcast payload as the router publishes it, and
// "another instance" (a backplane on its own thread, subscribed to a channel, timing receipts).
#pragma once

#include "loadgen/histogram.hpp"
#include "routing/backplane.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace switchboard::loadgen {

// A JSON number as a double (0 for anything else): reading reports back.
double number_of(const boost::json::value& v);

// What the router publishes for a broadcast of the chat hub: ReceiveMessage("bench", text) in
// both hub protocols, in the ASP.NET envelope, with nobody excluded. The text starts with the
// send time (write_payload), at broadcast_stamp_offset() of the result.
std::string broadcast_payload(std::size_t message_size);
// Where the 20-digit send time sits in a broadcast_payload().
std::size_t broadcast_stamp_offset(std::string_view payload);
// Overwrites that send time, so each publication carries its own (and differs from the last).
void stamp_broadcast(std::string& payload, std::size_t offset, std::uint64_t ns);

// How many publishes the rate allows by `elapsed` since the window opened, given `sent`
// so far; unbounded for rate 0.
std::uint64_t publish_budget(double rate, std::chrono::nanoseconds elapsed,
                             std::uint64_t sent) noexcept;

// Runs `context` until `done()` or the deadline; false on the deadline.
template <class Done>
bool run_until(boost::asio::io_context& context, std::chrono::steady_clock::duration limit,
               Done done) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        context.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
}

// Another instance: the bus `make` builds on this object's own context and thread, subscribed
// to `channel`, counting what arrives and timing the broadcast payloads among it.
class bus_instance final : routing::backplane_handler {
public:
    using maker = std::function<std::unique_ptr<routing::backplane>(boost::asio::io_context&)>;

    bus_instance(const maker& make, const std::string& channel);
    ~bus_instance() override;
    bus_instance(const bus_instance&) = delete;
    bus_instance& operator=(const bus_instance&) = delete;

    [[nodiscard]] bool ready() const noexcept { return ready_; }
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    [[nodiscard]] std::uint64_t received() const noexcept {
        return received_.load(std::memory_order_acquire);
    }
    // After the run: the thread is idle once nothing is published any more.
    [[nodiscard]] histogram latency() const;

private:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;

    boost::asio::io_context context_;
    std::unique_ptr<routing::backplane> bus_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::uint64_t> received_{0};
    mutable std::mutex mutex_;  // the histogram, between its thread and the report
    histogram latency_;
    std::thread thread_;
};

// A publisher's own handler: what its bus delivers (other instances' traffic) is not measured.
struct null_handler final : routing::backplane_handler {
    void on_backplane_message(std::string_view, const shared_buffer&) override {}
};

}  // namespace switchboard::loadgen
