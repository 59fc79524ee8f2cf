// One Server-Sent Events subscriber of the load generator: a raw HTTP/1.1 GET over Asio from a
// chosen source address, read by sse_stream_reader; no EventSource reconnects (a load client).
#pragma once

#include "core/expected.hpp"
#include "loadgen/sse_stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::loadgen {

class sse_subscriber : public std::enable_shared_from_this<sse_subscriber> {
public:
    using open_handler = std::function<void(const expected<void>&)>;
    using close_handler = std::function<void(const std::string& reason)>;

    struct options {
        boost::asio::ip::tcp::endpoint server;
        std::optional<boost::asio::ip::address> source;
        std::string host;    // Host header
        std::string target;  // path and query
        std::chrono::milliseconds connect_timeout{30'000};
    };

    explicit sse_subscriber(boost::asio::any_io_executor executor);
    sse_subscriber(const sse_subscriber&) = delete;
    sse_subscriber& operator=(const sse_subscriber&) = delete;

    void on_event(sse_stream_reader::event_handler handler) { on_event_ = std::move(handler); }
    void on_close(close_handler handler) { on_close_ = std::move(handler); }
    // Open once the server answered 200 with its headers: the subscription is in place.
    void start(options options, open_handler handler);
    void close();

    [[nodiscard]] bool is_open() const noexcept { return state_ == state::open; }

private:
    enum class state : unsigned char { idle, connecting, open, closed };

    void on_connect(const boost::system::error_code& ec);
    void do_read();
    void on_read(const boost::system::error_code& ec, std::size_t bytes);
    void fail(const std::string& reason);

    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;  // the connect and head timeout only
    std::string request_;
    sse_stream_reader reader_;
    open_handler on_open_;
    sse_stream_reader::event_handler on_event_;
    close_handler on_close_;
    state state_ = state::idle;
    // Events are small and a loopback read rarely returns more; a longer burst takes two reads.
    std::array<char, 4096> buffer_{};
};

}  // namespace switchboard::loadgen
