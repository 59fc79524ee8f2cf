// The long-polling transport (server-to-client half): queued hub messages wait for the next
// poll, which takes all of them in one response; between polls the connection is inactive.
#pragma once

#include "core/shard_pool.hpp"
#include "http/server.hpp"
#include "transport/connection.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace switchboard::transport {

struct long_polling_options {
    // ASP.NET's LongPollingOptions.PollTimeout: clients re-poll after an empty 200.
    std::chrono::milliseconds poll_timeout{90'000};
    // A connection without a poll for this long is gone (ASP.NET's DisconnectTimeout).
    std::chrono::milliseconds disconnect_timeout{15'000};
};

// Thread safety: lives on its connection's shard. Polls may arrive on any shard: the
// endpoint posts them here, and answers are posted back to the poll's own shard.
class long_polling_transport : public connection_writer,
                               public std::enable_shared_from_this<long_polling_transport> {
public:
    long_polling_transport(shard_pool& shards, connection_ptr connection,
                           long_polling_options options);

    // The first poll: answered at once (200, empty) so the client starts sending.
    void start(const std::shared_ptr<http::exchange>& first_poll);
    // A later poll: answered with everything queued, or held until output or the poll timeout.
    void poll(std::shared_ptr<http::exchange> poll);
    // DELETE: the client is leaving; a held poll ends with 204.
    void terminate();

    void on_output_ready() override;
    void on_close_requested() override;
    void on_abort(std::uint16_t websocket_code, std::string_view reason) override;
    void on_terminate() override { end(); }

private:
    void answer(const std::shared_ptr<http::exchange>& poll, boost::beast::http::status status,
                std::string body, std::string_view content_type);
    void flush_to_pending();
    void arm_timer(std::chrono::milliseconds after);
    void end();

    shard_pool& shards_;
    connection_ptr connection_;
    long_polling_options options_;
    boost::asio::steady_timer timer_;
    std::shared_ptr<http::exchange> pending_;
    bool ended_ = false;
};

}  // namespace switchboard::transport
