// The HTTP/1.1 server on Boost.Beast: accepts on one socket, spreads sessions over the shards,
// serves health and static files, and hands hub paths to their handlers.
#pragma once

#include "core/shard_pool.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::http {

class stream;  // http/stream.hpp: what take_stream() hands over, plain TCP or TLS

namespace beast = boost::beast;
using request = beast::http::request<beast::http::string_body>;
using response = beast::http::response<beast::http::string_body>;

// One request in flight on a session. A handler answers it once, now or later (it may keep
// the shared_ptr), or takes the stream for a protocol upgrade.
class exchange {
public:
    virtual ~exchange() = default;
    virtual void respond(response res) = 0;
    // Ends the HTTP session and hands its socket over (WebSocket upgrade, SSE stream), with
    // the TLS session on it when the listener has one.
    virtual stream take_stream() = 0;
    // Adds the CORS headers this request earns, for responses written after take_stream().
    virtual void add_cors_headers(beast::http::fields& fields) = 0;
    // HTTP version and keep-alive of the request, for responses built later.
    [[nodiscard]] virtual unsigned version() const = 0;
    [[nodiscard]] virtual bool keep_alive() const = 0;
    [[nodiscard]] virtual std::size_t shard() const = 0;
    [[nodiscard]] virtual const std::string& remote_address() const = 0;
};

// Handles every request under a path prefix; `subpath` is what follows the prefix ("" or
// "/negotiate", ...). Runs on the session's shard.
using prefix_handler =
    std::function<void(request& req, std::string_view subpath, std::shared_ptr<exchange> ex)>;

struct server_settings {
    std::vector<std::string> cors_origins;  // "*" allows any origin
    std::string static_dir;                 // empty: no static files
    std::size_t max_header_size = 16 * 1024;
    std::size_t max_body_size = 64 * 1024;
    // Set: every connection starts with a TLS handshake (https, wss); null: plain TCP.
    std::shared_ptr<boost::asio::ssl::context> tls;
    // Body limits of path prefixes (lower case) that differ from max_body_size, applied once
    // the headers are read: the REST API takes larger bodies than the hub endpoints.
    std::vector<std::pair<std::string, std::size_t>> body_limits;
    // One log line per request; off by default: at thousands of negotiates and polls a second
    // the log would cost more than the requests, and a proxy in front usually logs them.
    bool access_log = false;
};

// Builds a plain-text response (the error bodies ASP.NET sends are text/plain).
response make_text_response(const request& req, beast::http::status status, std::string body);

class server {
public:
    server(shard_pool& shards, server_settings settings);
    ~server();

    // Routes `prefix` (matched case-insensitively, on path segment boundaries) to `handler`;
    // the longest matching prefix wins.
    void add_prefix_handler(std::string prefix, prefix_handler handler);
    // /readyz answers 200 only while this returns true (e.g. the backplane is connected).
    void set_readiness_check(std::function<bool()> check);

    // Binds and starts accepting; returns the bound endpoint (port 0 picks a free port).
    boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& endpoint);
    // Stops accepting new connections; sessions in progress continue.
    void stop_accepting();
    // /readyz answers 503 from now on: load balancers stop sending new clients.
    void set_draining();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace switchboard::http
