// The client end of a WebSocket for the load generator: our own handshake, server frames parsed
// in place from a per-thread read buffer, masked frames written in batches.
#pragma once

#include "transport/websocket_frame.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::client {

using ws_opcode = transport::websocket::opcode;

// Appends one final client frame carrying `payload`. The masking key is all zeros: a server
// cannot tell it from a random one (masking guards proxies against browser scripts choosing
// the bytes on the wire, not a concern of a load generator), and XOR with zero is the payload
// itself, so the frame costs a header and one copy.
void append_client_frame(ws_opcode op, std::string_view payload, std::string& out);

// Cuts the frames a server sends (unmasked) out of a byte stream. Whole frames in the input are
// handed on in place; only an unfinished frame and the fragments of a fragmented message are
// copied, so an idle reader holds two empty strings.
class server_frame_reader {
public:
    class handler {
    public:
        // One whole Text or Binary message; false stops parsing (the owner has closed).
        virtual bool on_message(std::string_view payload, bool text) = 0;
        virtual void on_ping(std::string_view payload) = 0;
        // A Close frame: `code` is 0 when it carried none. Parsing stops there.
        virtual void on_close(std::uint16_t code, std::string_view reason) = 0;

    protected:
        ~handler() = default;
    };

    explicit server_frame_reader(std::size_t max_message_size) noexcept
        : max_message_size_(max_message_size) {}

    // Parses `input` (which must not point into this reader); a protocol error comes back as
    // its reason, after which the reader ignores all input.
    std::optional<std::string_view> feed(std::string_view input, handler& events);

    // Bytes kept between reads: an unfinished frame and an unfinished fragmented message.
    [[nodiscard]] std::size_t buffered() const noexcept { return tail_.size() + message_.size(); }

private:
    // Handles one whole frame; false when parsing must stop (error or Close or the handler).
    bool on_frame(ws_opcode op, bool fin, std::string_view payload, handler& events);
    std::optional<std::string_view> fail(std::string_view reason);

    std::string tail_;     // a frame begun in an earlier read
    std::string message_;  // fragments of a message that is not finished
    std::size_t max_message_size_;
    std::optional<std::string_view> error_;  // set by on_frame when it refuses a frame
    bool in_message_ = false;
    bool message_text_ = false;
    bool done_ = false;
};

// What a server's answer to the opening handshake came to.
struct handshake_response {
    enum class status : unsigned char { incomplete, accepted, refused };
    status result = status::incomplete;
    std::size_t head_size = 0;  // bytes of the head; what follows are the first frames
    std::string error;          // why it was refused
};

// Reads an HTTP response head: accepted for a 101 that upgrades to websocket with the
// Sec-WebSocket-Accept matching our key.
handshake_response parse_handshake_response(std::string_view bytes,
                                            std::string_view expected_accept);

struct websocket_options {
    boost::asio::ip::tcp::endpoint server;
    std::optional<boost::asio::ip::address> source;
    std::string host;
    std::string target;
    std::size_t max_message_size = 1024 * 1024;
    std::chrono::milliseconds connect_timeout{30'000};
};

// The connection part of a client's options (connect_options, peer_connect_options).
template <typename ClientOptions>
websocket_options websocket_options_of(const ClientOptions& options) {
    return websocket_options{
        .server = options.server,
        .source = options.source,
        .host = options.host,
        .target = options.target,
        .max_message_size = options.max_message_size,
        .connect_timeout = options.connect_timeout,
    };
}

// What a websocket_connection reports to its owner, on the connection's executor.
class websocket_listener {
public:
    // Upgraded; frames that came with the 101 are handed on right after this returns.
    virtual void on_ws_open() = 0;
    // One whole message, valid during the call; false when the owner has closed the connection.
    virtual bool on_ws_message(std::string_view payload, bool text) = 0;
    // Once, when the connection fails or the server closes it; never after close().
    virtual void on_ws_error(const std::string& reason) = 0;
    // Everything queued has been written: an owner that batches can hand over its next batch.
    virtual void on_ws_drained() {}

protected:
    ~websocket_listener() = default;
};

// One WebSocket client connection, owned by its listener (a member of it). Reads wait for
// readability and then take what the kernel holds into a 64 KiB buffer shared by every
// connection of the thread, so an idle connection costs no read buffer at all.
class websocket_connection : private server_frame_reader::handler {
public:
    explicit websocket_connection(boost::asio::any_io_executor executor);
    websocket_connection(const websocket_connection&) = delete;
    websocket_connection& operator=(const websocket_connection&) = delete;

    // Connects and upgrades; the outcome reaches `listener`. Pending operations hold `owner`
    // (the listener's owning object, which holds this connection) so neither dies under them.
    void start(websocket_options options, websocket_listener& listener,
               const std::shared_ptr<void>& owner);

    // Queues one message as its own frame; everything queued while a write is in flight
    // leaves in the next single write.
    void send(ws_opcode op, std::string_view payload);

    // Ends the connection at once (no close handshake), silently.
    void close();

    [[nodiscard]] bool is_open() const noexcept { return state_ == state::open; }
    [[nodiscard]] bool writing() const noexcept { return write_in_flight_; }
    // The owner's other I/O (a negotiate request) runs here too.
    [[nodiscard]] boost::asio::any_io_executor get_executor() noexcept {
        return socket_.get_executor();
    }
    [[nodiscard]] std::size_t queued_bytes() const noexcept { return queued_.size(); }

private:
    enum class state : unsigned char { idle, connecting, upgrading, open, closed };

    void on_connect(const boost::system::error_code& ec);
    void wait_readable();
    void on_readable(const boost::system::error_code& ec);
    void on_head(std::string_view bytes);
    void on_frames(std::string_view bytes);
    void do_write();
    void fail(const std::string& reason);

    bool on_message(std::string_view payload, bool text) override;
    void on_ping(std::string_view payload) override;
    void on_close(std::uint16_t code, std::string_view reason) override;

    boost::asio::ip::tcp::socket socket_;
    // Only while connecting and upgrading: an open connection has no timer.
    std::unique_ptr<boost::asio::steady_timer> deadline_;
    std::weak_ptr<void> owner_;
    websocket_listener* listener_ = nullptr;
    server_frame_reader reader_;
    std::string accept_;  // the Sec-WebSocket-Accept we expect, while upgrading
    std::string head_;    // the response head as it arrives
    std::string queued_;
    std::string writing_;  // the write in flight; its storage must outlive it
    bool write_in_flight_ = false;
    state state_ = state::idle;
};

}  // namespace switchboard::client
