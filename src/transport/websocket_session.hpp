// The WebSockets transport: one socket, one write in flight, everything queued meanwhile sent
// as one gather write (one WebSocket message holding many hub messages).
#pragma once

#include "http/server.hpp"
#include "http/stream.hpp"
#include "transport/connection.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::transport {

// Thread safety: lives on the shard of its socket; the connection calls it on that shard.
class websocket_session : public connection_writer,
                          public std::enable_shared_from_this<websocket_session> {
public:
    websocket_session(http::stream stream, connection_ptr connection);
    ~websocket_session() override;

    // Completes the upgrade for `upgrade_request`, then reads until the socket closes.
    void run(http::request upgrade_request);

    void on_output_ready() override;
    void on_close_requested() override;
    void on_abort(std::uint16_t websocket_code, std::string_view reason) override;
    void on_replaced() override;
    void on_terminate() override;
    // Marks this session as a stateful reconnect: it resumes its connection once accepted.
    void set_resuming() noexcept { resuming_ = true; }

private:
    void on_accept(boost::beast::error_code ec);
    void do_read();
    void on_read(boost::beast::error_code ec, std::size_t bytes);
    void do_write();
    void on_write(boost::beast::error_code ec);
    void do_close(std::uint16_t code, std::string reason);
    void finish();

    boost::beast::websocket::stream<http::stream> ws_;
    connection_ptr connection_;
    boost::beast::flat_buffer read_buffer_;
    std::vector<shared_buffer> writing_;
    std::vector<boost::asio::const_buffer> write_buffers_;
    std::unique_ptr<boost::asio::steady_timer> abort_timer_;  // only while aborting
    std::string abort_reason_;
    std::uint16_t abort_code_ = 0;
    bool accepted_ = false;
    bool write_in_flight_ = false;
    bool close_started_ = false;
    bool aborting_ = false;
    bool finished_ = false;
    bool graceful_ = false;  // the socket ended with a close handshake
    bool resuming_ = false;
    bool replaced_ = false;
};

}  // namespace switchboard::transport
