// One HTTP(S) request on a connection of its own: negotiate, the POSTs and DELETE of the HTTP
// transports, long polls, and (streaming its body) the Server-Sent Events GET.
#pragma once

#include "client/transport/transport.hpp"
#include "core/expected.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::client::detail {

struct http_request {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    boost::urls::url url;  // http or https
    std::string body;
    std::string content_type;                                  // set when not empty
    std::vector<std::pair<std::string, std::string>> headers;  // besides the context's
    // The whole exchange, connect included; for a streamed response up to its head.
    std::chrono::milliseconds timeout{100'000};
    // The largest body read into an http_response (a streamed body is not limited here).
    std::size_t body_limit = 16 * 1024 * 1024;
};

struct http_response {
    unsigned status = 0;
    std::string reason;
    std::string body;
};

// What a streamed response reports, on the context's executor; nothing after cancel().
struct http_stream_handlers {
    // The head (status, reason, no body); false ends the exchange there.
    std::function<bool(const http_response&)> on_head;
    // A piece of the body as it arrives; false ends the exchange.
    std::function<bool(std::string_view)> on_body;
    // The response completed (nullopt) or the connection failed (the error).
    std::function<void(std::optional<std::string>)> on_end;
};

// One request in flight. A new connection per request: the HTTP transports send at most one
// POST at a time plus the poll or event stream, and a connect on a loopback or keep-alive-less
// proxy costs little next to the simplicity of never sharing a socket between them.
class http_operation {
public:
    virtual ~http_operation() = default;
    // Closes the connection; no handler runs afterwards. Idempotent.
    virtual void cancel() = 0;
};

// Sends `request` and reports the response (any status) or why there is none ("connect to
// host:port failed: ...", "HTTP request timed out", ...). The operation keeps itself alive
// until it completes; keep the returned pointer only to cancel it.
std::shared_ptr<http_operation> send_http_request(
    const http_context& context, http_request request,
    std::function<void(expected<http_response>)> handler);

// Sends `request` and streams the response body to `handlers`; after the head arrives the
// request's timeout no longer applies (an event stream is idle for as long as the hub is).
std::shared_ptr<http_operation> open_http_stream(const http_context& context, http_request request,
                                                 http_stream_handlers handlers);

// The Host header's value: the host with the port unless it is the scheme's default.
std::string host_header(boost::urls::url_view url);
// The port to connect to: the URL's, or 443 for https/wss and 80 otherwise.
std::string port_or_default(boost::urls::url_view url);
// The host to resolve and to name in TLS (an IPv6 address without its brackets).
std::string host_name(boost::urls::url_view url);
bool is_secure_scheme(boost::urls::url_view url);
// The request line's target: the path ("/" when there is none) and the query.
std::string request_target(boost::urls::url_view url);
// "<what> timed out" or "<what> failed: <reason>".
std::string describe_failure(const std::string& what, boost::system::error_code ec);

// Opens a client connection as every request and the WebSocket transport do: resolves
// host:port, connects `socket` and, with `tls` (whose lowest layer is `socket`), completes the
// TLS handshake, all before `deadline`. After each step `wanted()` is asked first: false (the
// owner stopped meanwhile) ends it without calling `done`. `done` gets the error, if any, and
// keeps the owner of the streams alive.
void open_connection(boost::asio::ip::tcp::resolver& resolver, boost::beast::tcp_stream& socket,
                     boost::beast::ssl_stream<boost::beast::tcp_stream>* tls, std::string host,
                     std::string port, std::chrono::steady_clock::time_point deadline,
                     std::function<bool()> wanted,
                     std::function<void(std::optional<std::string> error)> done);

}  // namespace switchboard::client::detail
