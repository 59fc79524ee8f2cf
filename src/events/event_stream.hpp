// One subscriber's SSE response: the head, `retry:`, then queued events in gather writes, a
// keep-alive comment after a quiet interval, and a bounded queue (slow subscribers are dropped).
#pragma once

#include "events/registry.hpp"
#include "http/stream.hpp"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::events {

// Thread safety: lives on the shard of its socket; the registry calls deliver() there.
// Invariant: subscribed to its channels from run() until finish().
class event_stream final : public subscriber, public std::enable_shared_from_this<event_stream> {
public:
    event_stream(http::stream stream, registry& events, std::vector<std::string> channels,
                 std::optional<event_id> resume_from, switchboard::metrics* counters);
    ~event_stream() override;

    // Writes `response_head` and the retry preamble, then subscribes.
    void run(std::string response_head);
    void deliver(const shared_buffer& sse) override;
    // Ends the stream (server shutdown); the client's EventSource reconnects elsewhere.
    void close() override;
    // Before run(): events wait behind the response head until release(), which writes
    // `first` (the snapshots) ahead of them, so nothing published meanwhile is lost.
    void hold() { held_ = true; }
    void release(std::vector<shared_buffer> first);

private:
    void enqueue(shared_buffer bytes);
    void do_watch();
    void do_write();
    void on_write(boost::system::error_code ec);
    void do_keep_alive(std::chrono::steady_clock::time_point at);
    void on_keep_alive();
    void finish();

    http::stream stream_;
    registry& events_;
    std::vector<std::string> channels_;
    std::optional<event_id> resume_from_;
    switchboard::metrics* counters_;
    boost::asio::steady_timer keep_alive_timer_;
    std::deque<shared_buffer> queue_;
    std::size_t queued_bytes_ = 0;  // in queue_, behind the write in flight
    std::vector<shared_buffer> writing_;
    std::vector<boost::asio::const_buffer> write_buffers_;
    std::chrono::steady_clock::time_point last_output_;
    std::array<char, 64> discard_{};  // a subscriber sends nothing after its request
    bool write_in_flight_ = false;
    bool subscribed_ = false;
    bool finished_ = false;
    bool held_ = false;
    bool head_written_ = false;
};

}  // namespace switchboard::events
