// The WebSockets transport: one socket, one write in flight, everything queued meanwhile sent
// as one gather write (one WebSocket message holding many hub messages). Framing is our own
// (websocket_frame.hpp): an idle plain-TCP connection holds no read buffer, because reads wait
// for readiness and then land in a buffer shared by every socket of the shard.
#pragma once

#include "http/server.hpp"
#include "http/stream.hpp"
#include "transport/connection.hpp"
#include "transport/websocket_frame.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::transport {

// Why an upgrade request cannot become a WebSocket (RFC 6455 4.2.1), as the response to send;
// nothing when it can.
std::optional<http::response> refuse_websocket_upgrade(const http::request& req);

// Thread safety: lives on the shard of its socket; the connection calls it on that shard.
class websocket_session : public connection_writer,
                          public websocket::frame_handler,
                          public std::enable_shared_from_this<websocket_session> {
public:
    // `stream` carries no unread bytes: a client waits for the 101 before sending frames.
    websocket_session(http::stream stream, connection_ptr connection);
    ~websocket_session() override;

    // Answers `upgrade_request` (checked by refuse_websocket_upgrade) with 101, then reads
    // until the socket closes.
    void run(const http::request& upgrade_request);

    void on_output_ready() override;
    void on_close_requested() override;
    void on_abort(std::uint16_t websocket_code, std::string_view reason) override;
    void on_replaced() override;
    void on_terminate() override;
    // Marks this session as a stateful reconnect: it resumes its connection once accepted.
    void set_resuming() noexcept { resuming_ = true; }

private:
    void on_handshake_written(boost::system::error_code ec);
    void do_read();
    void on_readable(boost::system::error_code ec);
    void on_tls_read(boost::system::error_code ec, std::size_t bytes);
    void consume(std::span<char> bytes);
    void on_data(std::string_view bytes) override;
    void on_control(websocket::opcode op, std::string_view payload) override;
    void do_write();
    void on_write(boost::system::error_code ec);
    void do_close(std::uint16_t code, std::string_view reason);
    // After the close handshake: TLS shutdown first where there is TLS, then close_socket().
    void end_connection();
    void close_socket();
    void finish();
    template <class Buffers, class Handler>
    void async_write(const Buffers& buffers, Handler&& handler);

    // Plain TCP owns the socket directly; TLS keeps its stream (and the read buffer its
    // asynchronous reads need) on the heap, so plain connections pay for neither.
    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<http::stream> tls_;
    std::unique_ptr<char[]> tls_read_buffer_;
    connection_ptr connection_;
    websocket::frame_parser parser_;
    std::vector<shared_buffer> writing_;
    std::vector<boost::asio::const_buffer> write_buffers_;
    std::string control_out_;  // the 101 response, a Pong or the Close, sent before data
    std::string control_writing_;
    std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only while closing
    websocket::frame_header header_{};
    // The first data write puts its first message (the hub handshake response) in a frame of
    // its own: the JS client sets up its stateful-reconnect count only after handling the
    // handshake, so a message in the same frame would go uncounted and be replayed twice.
    websocket::frame_header first_header_{};
    bool first_frame_written_ = false;
    bool accepted_ = false;
    bool write_in_flight_ = false;
    bool close_sent_ = false;      // our Close frame is queued or written
    bool close_on_flush_ = false;  // drop the socket once our Close frame is written
    bool aborting_ = false;
    bool finished_ = false;
    bool resuming_ = false;
    bool replaced_ = false;
};

}  // namespace switchboard::transport
