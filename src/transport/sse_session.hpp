// The Server-Sent Events transport (server-to-client half): one streaming response, each
// batch of queued hub messages written as one `data:` event in one gather write.
#pragma once

#include "http/server.hpp"
#include "http/stream.hpp"
#include "transport/connection.hpp"

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::transport {

// Appends the SSE event for `payload` (ASP.NET's ServerSentEventsMessageFormatter): one
// `data: ` line per line of the payload (a `\r` before `\n` is dropped), then an empty line.
void append_sse_event(std::string_view payload, std::string& out);

// Thread safety: lives on the shard of its socket, as its connection does.
class sse_session : public connection_writer, public std::enable_shared_from_this<sse_session> {
public:
    sse_session(http::stream stream, connection_ptr connection);
    ~sse_session() override;

    // Writes the response head (with `cors` applied by the caller) and the `:` prelude.
    void run(std::string response_head);

    void on_output_ready() override;
    void on_close_requested() override;
    void on_abort(std::uint16_t websocket_code, std::string_view reason) override;
    void on_terminate() override { shutdown(); }

private:
    void do_watch();
    void do_write();
    void on_write(boost::beast::error_code ec);
    void shutdown();
    void finish();

    http::stream stream_;
    connection_ptr connection_;
    std::vector<shared_buffer> writing_;
    std::vector<boost::asio::const_buffer> write_buffers_;
    std::string framed_;              // used when a payload holds a newline and must be re-framed
    std::array<char, 64> discard_{};  // the client sends nothing on an SSE request
    bool started_ = false;
    bool write_in_flight_ = false;
    bool ended_ = false;
    bool finished_ = false;
};

}  // namespace switchboard::transport
