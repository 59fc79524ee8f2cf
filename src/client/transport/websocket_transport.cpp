// The WebSocket transport: Beast's client stream over TCP or TLS, one read loop, writes batched.
#include "client/transport/http_request.hpp"
#include "client/transport/tls_client.hpp"
#include "client/transport/transports.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <optional>

namespace switchboard::client::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;
using tcp = asio::ip::tcp;

using plain_websocket = websocket::stream<beast::tcp_stream>;
using tls_websocket = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class websocket_transport final : public transport {
public:
    websocket_transport(http_context context, transport_listener& listener)
        : context_(std::move(context)), listener_(listener), resolver_(context_.executor) {}

    void start(boost::urls::url url, transfer_format format,
               std::function<void(expected<void>)> on_started) override {
        on_started_ = std::move(on_started);
        format_ = format;
        url_ = std::move(url);
        // The hub URL is http(s); the upgrade goes to ws(s) on the same host, path and query.
        if (url_.scheme_id() == boost::urls::scheme::https) {
            url_.set_scheme_id(boost::urls::scheme::wss);
        } else if (url_.scheme_id() == boost::urls::scheme::http) {
            url_.set_scheme_id(boost::urls::scheme::ws);
        }
        host_ = host_name(url_);
        port_ = port_or_default(url_);
        if (is_secure_scheme(url_)) {
            auto tls = context_.tls ? context_.tls : default_client_tls_context();
            if (!tls) {
                return start_failed_later("TLS: no client context for " + host_);
            }
            tls_.emplace(context_.executor, *tls);
            if (auto error = prepare_tls_stream(tls_->next_layer().native_handle(), host_,
                                                tls_context_verifies(*tls))) {
                return start_failed_later(std::move(*error));
            }
        } else {
            plain_.emplace(context_.executor);
        }
        with_stream([this](auto& ws) { configure(ws); });
        open_connection(
            resolver_, lowest(), tls_ ? &tls_->next_layer() : nullptr, host_, port_,
            std::chrono::steady_clock::now() + context_.request_timeout,
            [self = self()] { return !self->stopped_; },
            [self = self()](std::optional<std::string> error) {
                if (error) {
                    return self->start_failed(std::move(*error));
                }
                self->do_upgrade();
            });
    }

    void send(std::string data) override {
        if (stopped_ || finished_) {
            return;
        }
        queue_ += data;
        if (open_ && !writing_) {
            do_write();
        }
    }

    void stop() override {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        resolver_.cancel();
        if (!plain_ && !tls_) {
            return;
        }
        if (!open_ || finished_) {
            close_socket();
            return;
        }
        drain_and_close();
    }

    [[nodiscard]] std::size_t buffered_bytes() const noexcept override {
        return queue_.size() + in_flight_.size();
    }
    [[nodiscard]] transport_type type() const noexcept override {
        return transport_type::websockets;
    }

private:
    std::shared_ptr<websocket_transport> self() {
        return std::static_pointer_cast<websocket_transport>(shared_from_this());
    }

    template <class F>
    void with_stream(F&& f) {
        if (tls_) {
            f(*tls_);
        } else {
            f(*plain_);
        }
    }
    beast::tcp_stream& lowest() {
        return tls_ ? beast::get_lowest_layer(*tls_) : beast::get_lowest_layer(*plain_);
    }

    template <class Stream>
    void configure(websocket::stream<Stream>& ws) {
        // Beast's client defaults: a 30 s limit on the opening and closing handshakes, no
        // idle timeout and no pings of our own (the hub protocol has its own keep-alive).
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        ws.set_option(websocket::stream_base::decorator(
            [headers = context_.headers,
             token = context_.access_token](websocket::request_type& req) {
                for (const auto& [name, value] : headers) {
                    req.set(name, value);
                }
                if (token) {
                    req.set(beast::http::field::authorization, "Bearer " + *token);
                }
            }));
        ws.read_message_max(context_.max_message_size);
        ws.binary(format_ == transfer_format::binary);
        // Messages go out whole; Beast would otherwise cut them into 4 KiB frames.
        ws.auto_fragment(false);
    }

    void do_upgrade() {
        // From here the WebSocket stream's own timeouts apply (see configure()).
        lowest().expires_never();
        with_stream([this, target = request_target(url_)](auto& ws) {
            ws.async_handshake(upgrade_response_, host_header(url_), target,
                               beast::bind_front_handler(&websocket_transport::on_upgrade, self()));
        });
    }

    void on_upgrade(error_code ec) {
        if (stopped_) {
            return;
        }
        if (ec) {
            if (ec == websocket::error::upgrade_declined) {
                std::string message = "WebSocket upgrade failed with status code " +
                                      std::to_string(upgrade_response_.result_int()) + " (" +
                                      std::string(upgrade_response_.reason()) + ")";
                if (!upgrade_response_.body().empty()) {
                    message += ": " + upgrade_response_.body();
                }
                return start_failed(message + ".");
            }
            return start_failed(describe_failure("WebSocket upgrade at " + host_, ec));
        }
        open_ = true;
        auto on_started = std::move(on_started_);
        on_started(expected<void>{});
        if (stopped_ || finished_) {
            return;
        }
        do_read();
        if (!queue_.empty() && !writing_) {
            do_write();
        }
    }

    // After stop(): what send() accepted still goes out (the hub's close message is usually the
    // last of it), then the close frame. Best effort: the server learns the client left on
    // purpose (1000, not an abort); the stream's close timeout (30 s, Beast's suggested client
    // setting) bounds the wait for its answer, and the socket closes either way.
    void drain_and_close() {
        if (writing_) {
            return;  // on_write comes back here
        }
        if (!queue_.empty()) {
            return do_write();
        }
        with_stream([this](auto& ws) {
            ws.async_close(websocket::close_code::normal,
                           [self = self()](error_code) { self->close_socket(); });
        });
    }

    void do_read() {
        with_stream([this](auto& ws) {
            ws.async_read(read_buffer_,
                          beast::bind_front_handler(&websocket_transport::on_read, self()));
        });
    }

    void on_read(error_code ec, std::size_t) {
        if (stopped_ || finished_) {
            return;
        }
        if (ec) {
            return on_read_failed(ec);
        }
        const auto data = read_buffer_.cdata();
        listener_.on_transport_data(
            std::string_view(static_cast<const char*>(data.data()), data.size()));
        if (stopped_ || finished_) {
            return;
        }
        read_buffer_.consume(read_buffer_.size());
        do_read();
    }

    void on_read_failed(error_code ec) {
        if (ec == websocket::error::closed) {
            websocket::close_reason reason;
            with_stream([&reason](auto& ws) { reason = ws.reason(); });
            if (reason.code == websocket::close_code::normal) {
                return finish(std::nullopt);
            }
            return finish(
                "WebSocket closed with status code: " + std::to_string(reason.code) + " (" +
                (reason.reason.empty() ? std::string("no reason given")
                                       : std::string(reason.reason.data(), reason.reason.size())) +
                ").");
        }
        if (ec == websocket::error::message_too_big) {
            return finish("WebSocket message exceeds the maximum size of " +
                          std::to_string(context_.max_message_size) + " bytes.");
        }
        finish("WebSocket connection lost: " + ec.message());
    }

    void do_write() {
        writing_ = true;
        in_flight_ = std::move(queue_);
        queue_.clear();
        with_stream([this](auto& ws) {
            ws.async_write(asio::buffer(in_flight_),
                           beast::bind_front_handler(&websocket_transport::on_write, self()));
        });
    }

    void on_write(error_code ec, std::size_t) {
        writing_ = false;
        in_flight_.clear();
        if (finished_) {
            return;
        }
        if (stopped_) {
            if (ec) {
                return close_socket();
            }
            return drain_and_close();
        }
        if (ec) {
            return finish("WebSocket connection lost: " + ec.message());
        }
        if (!queue_.empty()) {
            do_write();
        }
    }

    void start_failed(std::string message) {
        finished_ = true;
        close_socket();
        auto on_started = std::move(on_started_);
        on_started(make_error(std::move(message)));
    }
    void start_failed_later(std::string message) {
        asio::post(context_.executor, [self = self(), message = std::move(message)]() mutable {
            if (!self->stopped_) {
                self->start_failed(std::move(message));
            }
        });
    }

    // The one on_transport_closed of a started transport.
    void finish(std::optional<std::string> error) {
        finished_ = true;
        close_socket();
        listener_.on_transport_closed(std::move(error));
    }

    void close_socket() {
        if (plain_ || tls_) {
            error_code ignored;
            lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
            lowest().close();
        }
    }

    http_context context_;
    transport_listener& listener_;
    tcp::resolver resolver_;
    std::optional<plain_websocket> plain_;
    std::optional<tls_websocket> tls_;
    boost::urls::url url_;
    std::string host_;
    std::string port_;
    transfer_format format_ = transfer_format::text;
    std::function<void(expected<void>)> on_started_;
    websocket::response_type upgrade_response_;
    beast::flat_buffer read_buffer_;
    std::string queue_;      // sends waiting for the write in flight
    std::string in_flight_;  // the message being written
    bool open_ = false;      // upgraded
    bool writing_ = false;
    bool finished_ = false;  // failed to start, or closed: the listener has heard the end
    bool stopped_ = false;   // stop() was called: silence
};

}  // namespace

std::shared_ptr<transport> make_websocket_transport(http_context context,
                                                    transport_listener& listener) {
    return std::make_shared<websocket_transport>(std::move(context), listener);
}

}  // namespace switchboard::client::detail
