#include "client/transport/http_request.hpp"

#include "client/transport/tls_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>

namespace switchboard::client::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

bool is_secure_scheme(boost::urls::url_view url) {
    const auto scheme = url.scheme_id();
    return scheme == boost::urls::scheme::https || scheme == boost::urls::scheme::wss;
}

std::string port_or_default(boost::urls::url_view url) {
    if (url.has_port() && !url.port().empty()) {
        return std::string(url.port());
    }
    return is_secure_scheme(url) ? "443" : "80";
}

std::string host_name(boost::urls::url_view url) {
    if (url.host_type() == boost::urls::host_type::ipv6) {
        return url.host_address();  // without the brackets
    }
    return url.host();
}

std::string host_header(boost::urls::url_view url) {
    std::string host(url.encoded_host_address());
    if (url.host_type() == boost::urls::host_type::ipv6) {
        host = "[" + host + "]";
    }
    const auto port = port_or_default(url);
    if (port != (is_secure_scheme(url) ? "443" : "80")) {
        host += ":" + port;
    }
    return host;
}

std::string request_target(boost::urls::url_view url) {
    std::string target(url.encoded_path());
    if (target.empty()) {
        target = "/";
    }
    if (url.has_query()) {
        target += "?";
        target += url.encoded_query();
    }
    return target;
}

std::string describe_failure(const std::string& what, error_code ec) {
    if (ec == beast::error::timeout) {
        return what + " timed out";
    }
    return what + " failed: " + ec.message();
}

void open_connection(tcp::resolver& resolver, beast::tcp_stream& socket,
                     beast::ssl_stream<beast::tcp_stream>* tls, std::string host, std::string port,
                     std::chrono::steady_clock::time_point deadline, std::function<bool()> wanted,
                     std::function<void(std::optional<std::string>)> done) {
    const auto resolving = host;
    const auto service = port;
    resolver.async_resolve(
        resolving, service,
        [&socket, tls, host = std::move(host), port = std::move(port), deadline,
         wanted = std::move(wanted), done = std::move(done)](
            error_code ec, const tcp::resolver::results_type& results) mutable {
            if (!wanted()) {
                return;
            }
            if (ec) {
                return done("cannot resolve " + host + ": " + ec.message());
            }
            socket.expires_at(deadline);
            socket.async_connect(
                results, [&socket, tls, host = std::move(host), port = std::move(port), deadline,
                          wanted = std::move(wanted),
                          done = std::move(done)](error_code error, const tcp::endpoint&) mutable {
                    if (!wanted()) {
                        return;
                    }
                    if (error) {
                        return done(describe_failure("connect to " + host + ":" + port, error));
                    }
                    if (tls == nullptr) {
                        return done(std::nullopt);
                    }
                    socket.expires_at(deadline);
                    tls->async_handshake(asio::ssl::stream_base::client,
                                         [host = std::move(host), wanted = std::move(wanted),
                                          done = std::move(done)](error_code failure) mutable {
                                             if (!wanted()) {
                                                 return;
                                             }
                                             if (failure) {
                                                 return done(describe_failure(
                                                     "TLS handshake with " + host, failure));
                                             }
                                             done(std::nullopt);
                                         });
                });
        });
}

namespace {

class http_exchange final : public http_operation,
                            public std::enable_shared_from_this<http_exchange> {
public:
    http_exchange(const http_context& context, http_request request)
        : context_(context), request_(std::move(request)), resolver_(context.executor) {}

    void start(std::function<void(expected<http_response>)> handler) {
        handler_ = std::move(handler);
        do_resolve();
    }
    void start(http_stream_handlers handlers) {
        stream_handlers_ = std::move(handlers);
        streaming_ = true;
        do_resolve();
    }

    void cancel() override {
        if (done_) {
            return;
        }
        done_ = true;
        close();
    }

private:
    template <class F>
    void with_stream(F&& f) {
        if (tls_) {
            f(*tls_);
        } else {
            f(*plain_);
        }
    }
    beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

    void close() {
        resolver_.cancel();
        if (tls_ || plain_) {
            error_code ignored;
            // No TLS close_notify: the response is complete or unwanted, and HTTP/1.1 framing
            // (not the TLS close) tells where a body ends.
            lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
            lowest().close();
        }
    }

    void do_resolve() {
        deadline_ = std::chrono::steady_clock::now() + request_.timeout;
        host_ = host_name(request_.url);
        port_ = port_or_default(request_.url);
        if (is_secure_scheme(request_.url)) {
            auto tls = context_.tls ? context_.tls : default_client_tls_context();
            if (!tls) {
                return fail_later("TLS: no client context for " + host_);
            }
            tls_.emplace(context_.executor, *tls);
            if (auto error =
                    prepare_tls_stream(tls_->native_handle(), host_, tls_context_verifies(*tls))) {
                return fail_later(std::move(*error));
            }
        } else {
            plain_.emplace(context_.executor);
        }
        open_connection(
            resolver_, lowest(), tls_ ? &*tls_ : nullptr, host_, port_, deadline_,
            [self = shared_from_this()] { return !self->done_; },
            [self = shared_from_this()](std::optional<std::string> error) {
                if (error) {
                    return self->fail(std::move(*error));
                }
                self->do_write();
            });
    }

    void do_write() {
        request_message_.method(request_.method);
        request_message_.target(request_target(request_.url));
        request_message_.version(11);
        request_message_.set(http::field::host, host_header(request_.url));
        for (const auto& [name, value] : context_.headers) {
            request_message_.set(name, value);
        }
        for (const auto& [name, value] : request_.headers) {
            request_message_.set(name, value);
        }
        if (context_.access_token) {
            request_message_.set(http::field::authorization, "Bearer " + *context_.access_token);
        }
        if (!request_.content_type.empty()) {
            request_message_.set(http::field::content_type, request_.content_type);
        }
        request_message_.body() = std::move(request_.body);
        // One request per connection (see http_operation): say so, and the server closes.
        request_message_.keep_alive(false);
        request_message_.prepare_payload();
        lowest().expires_at(deadline_);
        with_stream([this](auto& stream) {
            http::async_write(
                stream, request_message_,
                beast::bind_front_handler(&http_exchange::on_write, shared_from_this()));
        });
    }

    void on_write(error_code ec, std::size_t) {
        if (done_) {
            return;
        }
        if (ec) {
            return fail(describe_failure("HTTP request to " + host_, ec));
        }
        // The body is limited here for one-shot requests; a stream has no end to limit.
        parser_.body_limit(boost::none);
        lowest().expires_at(deadline_);
        with_stream([this](auto& stream) {
            http::async_read_header(
                stream, buffer_, parser_,
                beast::bind_front_handler(&http_exchange::on_header, shared_from_this()));
        });
    }

    void on_header(error_code ec, std::size_t) {
        if (done_) {
            return;
        }
        if (ec) {
            return fail(describe_failure("HTTP response from " + host_, ec));
        }
        response_.status = parser_.get().result_int();
        response_.reason = std::string(parser_.get().reason());
        if (streaming_) {
            lowest().expires_never();
            if (!stream_handlers_.on_head(response_)) {
                return cancel();
            }
            if (done_) {
                return;
            }
        }
        if (parser_.is_done()) {
            return complete();
        }
        do_read_body();
    }

    void do_read_body() {
        auto& body = parser_.get().body();
        body.data = chunk_.data();
        body.size = chunk_.size();
        with_stream([this](auto& stream) {
            http::async_read_some(
                stream, buffer_, parser_,
                beast::bind_front_handler(&http_exchange::on_body, shared_from_this()));
        });
    }

    void on_body(error_code ec, std::size_t) {
        if (done_) {
            return;
        }
        if (ec == http::error::need_buffer) {
            ec = {};  // the chunk buffer is full: hand it on and read on
        }
        if (ec) {
            return fail(describe_failure("HTTP response from " + host_, ec));
        }
        const std::size_t got = chunk_.size() - parser_.get().body().size;
        if (got > 0) {
            const std::string_view bytes(chunk_.data(), got);
            if (streaming_) {
                if (!stream_handlers_.on_body(bytes)) {
                    return cancel();
                }
                if (done_) {
                    return;
                }
            } else {
                if (response_.body.size() + got > request_.body_limit) {
                    return fail("HTTP response from " + host_ + " exceeds " +
                                std::to_string(request_.body_limit) + " bytes");
                }
                response_.body.append(bytes);
            }
        }
        if (parser_.is_done()) {
            return complete();
        }
        do_read_body();
    }

    // A failure found while starting: reported from the executor, as the caller expects of every
    // outcome, not from inside send_http_request.
    void fail_later(std::string message) {
        asio::post(context_.executor, [self = shared_from_this(), message = std::move(message)] {
            self->fail(message);
        });
    }

    void complete() {
        done_ = true;
        close();
        if (streaming_) {
            stream_handlers_.on_end(std::nullopt);
        } else {
            handler_(std::move(response_));
        }
    }

    void fail(std::string message) {
        if (done_) {
            return;
        }
        done_ = true;
        close();
        if (streaming_) {
            stream_handlers_.on_end(std::move(message));
        } else {
            handler_(make_error(std::move(message)));
        }
    }

    http_context context_;
    http_request request_;
    tcp::resolver resolver_;
    std::optional<beast::tcp_stream> plain_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
    std::string host_;
    std::string port_;
    std::chrono::steady_clock::time_point deadline_;
    http::request<http::string_body> request_message_;
    http::response_parser<http::buffer_body> parser_;
    beast::flat_buffer buffer_;
    std::array<char, 16 * 1024> chunk_{};  // one read's body bytes; an event or poll is copied
    http_response response_;
    std::function<void(expected<http_response>)> handler_;
    http_stream_handlers stream_handlers_;
    bool streaming_ = false;
    bool done_ = false;
};

}  // namespace

std::shared_ptr<http_operation> send_http_request(
    const http_context& context, http_request request,
    std::function<void(expected<http_response>)> handler) {
    auto exchange = std::make_shared<http_exchange>(context, std::move(request));
    exchange->start(std::move(handler));
    return exchange;
}

std::shared_ptr<http_operation> open_http_stream(const http_context& context, http_request request,
                                                 http_stream_handlers handlers) {
    auto exchange = std::make_shared<http_exchange>(context, std::move(request));
    exchange->start(std::move(handlers));
    return exchange;
}

}  // namespace switchboard::client::detail
