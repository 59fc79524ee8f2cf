#include "http/server.hpp"

#include "core/ascii.hpp"
#include "core/log_context.hpp"
#include "http/static_files.hpp"
#include "http/stream.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/version.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>

namespace switchboard::http {

namespace asio = boost::asio;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// An idle keep-alive connection is closed after this long; browsers reopen as needed.
constexpr auto idle_timeout = std::chrono::seconds(30);
// A client that connects and never completes the TLS handshake (a port scanner, a stalled
// peer) holds a socket for at most this long; real handshakes take a few round trips.
constexpr auto tls_handshake_timeout = std::chrono::seconds(10);
// How long a TLS peer may take to answer our close_notify before the socket is just closed.
constexpr auto tls_shutdown_timeout = std::chrono::seconds(5);
// After a last response on a plain socket, the rest of the request (a refused body) is read
// and dropped for at most this long and this many bytes, so the answer is not lost to a reset.
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::size_t linger_limit = 16 * 1024 * 1024;

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, std::min(target.find('?'), target.size()));
}

}  // namespace

response make_text_response(const request& req, bhttp::status status, std::string body) {
    response res{status, req.version()};
    res.set(bhttp::field::content_type, "text/plain");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

struct route {
    std::string prefix;  // lower case, no trailing slash
    prefix_handler handler;
};

struct server::impl : std::enable_shared_from_this<server::impl> {
    impl(shard_pool& pool, server_settings s)
        : shards(pool), settings(std::move(s)), acceptor(pool.context(0)) {}

    shard_pool& shards;
    server_settings settings;
    tcp::acceptor acceptor;
    std::vector<route> routes;
    std::function<bool()> readiness;
    std::atomic<bool> draining{false};
    std::size_t next_shard = 0;

    void do_accept();
    void on_accept(std::size_t shard, beast::error_code ec, tcp::socket socket);
    void start_session(std::size_t shard, tcp::socket socket);

    [[nodiscard]] bool origin_allowed(std::string_view origin) const {
        return std::any_of(
            settings.cors_origins.begin(), settings.cors_origins.end(),
            [&](const std::string& allowed) { return allowed == "*" || allowed == origin; });
    }
    // The longest matching prefix wins, whatever the order routes were added in: "/api" (the
    // REST API) must not shadow "/api/events" or a later "/api/<something>".
    const route* find_route(std::string_view lower_path, std::string_view& subpath) const {
        const route* best = nullptr;
        for (const auto& r : routes) {
            if (lower_path.starts_with(r.prefix) &&
                (lower_path.size() == r.prefix.size() || lower_path[r.prefix.size()] == '/') &&
                (best == nullptr || r.prefix.size() > best->prefix.size())) {
                best = &r;
            }
        }
        if (best != nullptr) {
            subpath = lower_path.substr(best->prefix.size());
        }
        return best;
    }
};

/*---- HTTP session ---------------------------------------------------------------------*/

class session : public exchange, public std::enable_shared_from_this<session> {
public:
    session(std::shared_ptr<server::impl> server, stream connection, std::size_t shard)
        : server_(std::move(server)), stream_(std::move(connection)), shard_(shard) {
        beast::error_code ec;
        const auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) {
            remote_address_ = endpoint.address().to_string();
        }
    }

    void start() {
        if (stream_.is_tls()) {
            return do_handshake();
        }
        do_read();
    }

    void respond(response res) override {
        // Deferred answers (long polls) come back here; the session may meanwhile be gone.
        log_access(res.result_int());
        apply_cors(res);
        const bool keep_alive = res.keep_alive() && !server_->draining;
        res.keep_alive(keep_alive);
        write(bhttp::message_generator(std::move(res)), keep_alive);
    }

    stream take_stream() override {
        // WebSocket upgrades and event streams: logged as they are handed over ("stream").
        log_access(0);
        taken_ = true;
        stream_.next_layer().expires_never();
        return std::move(stream_);
    }

    [[nodiscard]] std::size_t shard() const override { return shard_; }
    [[nodiscard]] const std::string& remote_address() const override { return remote_address_; }

private:
    void do_handshake() {
        stream_.next_layer().expires_after(tls_handshake_timeout);
        stream_.tls()->async_handshake(
            asio::ssl::stream_base::server,
            [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
    }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            // Plain HTTP to the TLS port, scanners, clients that distrust our certificate:
            // their problem, not the server's; the socket closes with this session.
            spdlog::debug("TLS handshake with {} failed: {}", remote_address_, ec.message());
            return;
        }
        do_read();
    }

    void do_read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_->settings.max_header_size));
        body_limit_ = server_->settings.max_body_size;
        stream_.next_layer().expires_after(idle_timeout);
        if (server_->settings.body_limits.empty()) {
            parser_->body_limit(body_limit_);
            return bhttp::async_read(stream_, buffer_, *parser_,
                                     [self = shared_from_this()](
                                         beast::error_code ec, std::size_t) { self->on_read(ec); });
        }
        // The parser checks Content-Length against its limit while it reads the header, before
        // the path is known: the largest limit here, the path's own once the header is in.
        std::size_t largest = body_limit_;
        for (const auto& [prefix, limit] : server_->settings.body_limits) {
            largest = std::max(largest, limit);
        }
        parser_->body_limit(largest);
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                     self->on_header(ec);
                                 });
    }

    // Applies the body limit of the request's path, then reads the body.
    void on_header(beast::error_code ec) {
        if (ec) {
            return on_read(ec);
        }
        const std::string lower_path = to_lower(path_of(parser_->get().target()));
        for (const auto& [prefix, limit] : server_->settings.body_limits) {
            if (lower_path.starts_with(prefix) &&
                (lower_path.size() == prefix.size() || lower_path[prefix.size()] == '/')) {
                body_limit_ = limit;
                break;
            }
        }
        if (const auto length = parser_->content_length(); length && *length > body_limit_) {
            return on_read(bhttp::error::body_limit);
        }
        parser_->body_limit(body_limit_);  // chunked bodies: checked as they arrive
        if (parser_->is_done()) {
            return on_read({});
        }
        // curl asks before sending a body over 1 KiB and waits a second for the answer.
        if (ascii_iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
            static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
            return asio::async_write(
                stream_, asio::buffer(go_on.data(), go_on.size()),
                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                    if (ec) {
                        return;
                    }
                    self->read_body();
                });
        }
        read_body();
    }

    void read_body() {
        bhttp::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec == bhttp::error::header_limit) {
            return reject(bhttp::status::request_header_fields_too_large,
                          "Request headers exceed " +
                              std::to_string(server_->settings.max_header_size) + " bytes.");
        }
        if (ec == bhttp::error::body_limit) {
            return reject(bhttp::status::payload_too_large,
                          "Request body exceeds " + std::to_string(body_limit_) + " bytes.");
        }
        if (ec) {
            return;  // client left, idle timeout, or garbage: nothing to answer
        }
        request_ = parser_->release();
        request_start_ = std::chrono::steady_clock::now();
        request_id_ = next_request_id();
        const log_scope scope(request_id_);
        route_request();
    }

    void reject(bhttp::status status, std::string message) {
        request req;
        req.version(11);
        auto res = make_text_response(req, status, std::move(message));
        res.keep_alive(false);
        write(bhttp::message_generator(std::move(res)), false);
    }

    void route_request() {
        const std::string lower_path = to_lower(path_of(request_.target()));
        if (request_.method() == bhttp::verb::options) {
            return respond_preflight();
        }
        if (lower_path == "/healthz") {
            return respond(make_text_response(request_, bhttp::status::ok, "alive"));
        }
        if (lower_path == "/readyz") {
            const bool ready = !server_->draining && (!server_->readiness || server_->readiness());
            return respond(make_text_response(
                request_, ready ? bhttp::status::ok : bhttp::status::service_unavailable,
                ready ? "ready" : "not ready"));
        }
        std::string_view subpath;
        if (const route* r = server_->find_route(lower_path, subpath)) {
            r->handler(request_, subpath, shared_from_this());
            return;
        }
        if (!server_->settings.static_dir.empty() && request_.method() == bhttp::verb::get) {
            auto file = serve_static_file(server_->settings.static_dir, request_);
            if (file) {
                apply_cors(*file);
                const bool keep_alive = file->keep_alive() && !server_->draining;
                file->keep_alive(keep_alive);
                log_access(file->result_int());
                return write(bhttp::message_generator(std::move(*file)), keep_alive);
            }
        }
        respond(make_text_response(request_, bhttp::status::not_found, "Not Found"));
    }

    // Browsers preflight the client's non-simple headers (X-Requested-With, Authorization).
    void respond_preflight() {
        response res{bhttp::status::no_content, request_.version()};
        res.keep_alive(request_.keep_alive());
        const auto method = request_[bhttp::field::access_control_request_method];
        const auto headers = request_[bhttp::field::access_control_request_headers];
        if (method.empty()) {
            res.set(bhttp::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
        } else {
            res.set(bhttp::field::access_control_allow_methods, method);
        }
        if (!headers.empty()) {
            res.set(bhttp::field::access_control_allow_headers, headers);
        }
        // Browsers may cache the preflight for 10 minutes: fewer round trips per negotiate.
        res.set(bhttp::field::access_control_max_age, "600");
        res.prepare_payload();
        respond(std::move(res));
    }

    void add_cors_headers(bhttp::fields& fields) override { apply_cors(fields); }
    [[nodiscard]] unsigned version() const override { return request_.version(); }
    [[nodiscard]] bool keep_alive() const override { return request_.keep_alive(); }

    void apply_cors(bhttp::fields& res) {
        const auto origin = request_[bhttp::field::origin];
        if (origin.empty()) {
            return;
        }
        res.set(bhttp::field::vary, "Origin");
        if (server_->origin_allowed(origin)) {
            res.set(bhttp::field::access_control_allow_origin, origin);
            res.set(bhttp::field::access_control_allow_credentials, "true");
        } else {
            res.erase(bhttp::field::access_control_allow_methods);
            res.erase(bhttp::field::access_control_allow_headers);
            res.erase(bhttp::field::access_control_max_age);
        }
    }

    // One line per answered request when --access-log is on; status 0: a stream handed over.
    // The path only: query strings carry access tokens (?access_token=) and connection tokens.
    void log_access(unsigned status) {
        if (!server_->settings.access_log) {
            return;
        }
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - request_start_);
        const log_scope scope(request_id_);  // answered later than it was routed
        spdlog::info("access {} {} {} {} {:.3f}ms", remote_address_,
                     std::string_view(request_.method_string()), path_of(request_.target()),
                     status == 0 ? std::string("stream") : std::to_string(status),
                     static_cast<double>(elapsed.count()) / 1000.0);
    }

    void write(bhttp::message_generator message, bool keep_alive) {
        if (taken_) {
            return;
        }
        stream_.next_layer().expires_after(idle_timeout);
        beast::async_write(
            stream_, std::move(message),
            [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                self->on_write(ec, keep_alive);
            });
    }

    void on_write(beast::error_code ec, bool keep_alive) {
        if (ec) {
            return;
        }
        if (!keep_alive) {
            if (auto* tls = stream_.tls()) {
                // close_notify tells the client the response is complete, not truncated.
                stream_.next_layer().expires_after(tls_shutdown_timeout);
                return tls->async_shutdown([self = shared_from_this()](beast::error_code) {});
            }
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            // Closing with unread bytes (a refused body still arriving) makes the kernel send a
            // reset, which can destroy our answer before the client reads it: read and drop
            // what is left, bounded in bytes and time, before the socket closes.
            stream_.next_layer().expires_after(linger_timeout);
            return linger(0);
        }
        do_read();
    }

    void linger(std::size_t dropped) {
        if (dropped >= linger_limit) {
            return;
        }
        // Through the tcp_stream, whose expiry bounds the whole linger.
        stream_.next_layer().async_read_some(
            asio::buffer(scratch_),
            [self = shared_from_this(), dropped](beast::error_code ec, std::size_t n) {
                if (!ec) {
                    self->linger(dropped + n);
                }
            });
    }

    std::shared_ptr<server::impl> server_;
    stream stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    request request_;
    std::chrono::steady_clock::time_point request_start_;
    std::uint64_t request_id_ = 0;  // this request's number in the logs (log_context.hpp)
    std::size_t shard_;
    std::size_t body_limit_ = 0;             // of the request being read
    std::array<char, 16 * 1024> scratch_{};  // what linger() drops
    std::string remote_address_;
    bool taken_ = false;
};

/*---- Listener -------------------------------------------------------------------------*/

void server::impl::do_accept() {
    // Round-robin: each accepted socket belongs to the next shard's io_context for its life.
    const std::size_t shard = next_shard;
    next_shard = (next_shard + 1) % shards.size();
    acceptor.async_accept(shards.context(shard), [self = shared_from_this(), shard](
                                                     beast::error_code ec, tcp::socket socket) {
        self->on_accept(shard, ec, std::move(socket));
    });
}

void server::impl::on_accept(std::size_t shard, beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        return;
    }
    if (!ec) {
        beast::error_code ignored;
        // Small hub messages must not wait for Nagle's algorithm.
        socket.set_option(tcp::no_delay(true), ignored);
        asio::post(shards.context(shard),
                   [self = shared_from_this(), shard, socket = std::move(socket)]() mutable {
                       self->start_session(shard, std::move(socket));
                   });
    } else {
        // Out of descriptors and the like: log and keep accepting rather than stop serving.
        spdlog::warn("accept failed: {}", ec.message());
    }
    do_accept();
}

void server::impl::start_session(std::size_t shard, tcp::socket socket) {
    beast::tcp_stream tcp(std::move(socket));
    if (!settings.tls) {
        return std::make_shared<session>(shared_from_this(), stream(std::move(tcp)), shard)
            ->start();
    }
    // Created here rather than by ssl::stream, whose constructor throws when OpenSSL is out of
    // memory: the data plane reports errors, it does not throw them.
    SSL* ssl = SSL_new(settings.tls->native_handle());
    if (ssl == nullptr) {
        spdlog::warn("TLS session setup failed (out of memory?): connection dropped");
        return;
    }
    std::make_shared<session>(shared_from_this(), stream(stream::tls_stream(std::move(tcp), ssl)),
                              shard)
        ->start();
}

server::server(shard_pool& shards, server_settings settings)
    : impl_(std::make_shared<impl>(shards, std::move(settings))) {}

server::~server() {
    stop_accepting();
}

void server::add_prefix_handler(std::string prefix, prefix_handler handler) {
    prefix = to_lower(prefix);
    while (prefix.size() > 1 && prefix.back() == '/') {
        prefix.pop_back();
    }
    impl_->routes.push_back(route{std::move(prefix), std::move(handler)});
}

void server::set_readiness_check(std::function<bool()> check) {
    impl_->readiness = std::move(check);
}

void server::set_draining() {
    impl_->draining = true;
}

tcp::endpoint server::listen(const tcp::endpoint& endpoint) {
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    const auto bound = acceptor.local_endpoint();
    asio::post(acceptor.get_executor(), [self = impl_] { self->do_accept(); });
    return bound;
}

void server::stop_accepting() {
    asio::post(impl_->acceptor.get_executor(), [self = impl_] {
        beast::error_code ignored;
        self->acceptor.close(ignored);
    });
}

}  // namespace switchboard::http
