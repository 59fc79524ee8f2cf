// A client's byte stream as the HTTP server hands it over: plain TCP, or TLS over TCP when the
// listener has a certificate. Sessions (HTTP, WebSocket, SSE) are written once against it.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <cstddef>
#include <utility>
#include <variant>

namespace switchboard::http {

// Satisfies Asio's AsyncReadStream and AsyncWriteStream. Each operation picks its layer with
// one branch: no allocation, no virtual call, and the plain case runs exactly the tcp_stream
// code it ran before TLS existed.
class stream {
public:
    using tls_stream = boost::asio::ssl::stream<boost::beast::tcp_stream>;
    using executor_type = boost::beast::tcp_stream::executor_type;

    explicit stream(boost::beast::tcp_stream plain)
        : layers_(std::in_place_type<boost::beast::tcp_stream>, std::move(plain)) {}
    explicit stream(tls_stream tls) : layers_(std::in_place_type<tls_stream>, std::move(tls)) {}

    executor_type get_executor() noexcept { return next_layer().get_executor(); }

    // The TCP stream, under the TLS layer if there is one. Named for Beast: get_lowest_layer()
    // walks next_layer(), which is how Beast's HTTP algorithms reach the socket's timeouts.
    boost::beast::tcp_stream& next_layer() noexcept {
        if (auto* tls_layer = std::get_if<tls_stream>(&layers_)) {
            return tls_layer->next_layer();
        }
        return *std::get_if<boost::beast::tcp_stream>(&layers_);
    }
    boost::asio::ip::tcp::socket& socket() noexcept { return next_layer().socket(); }

    // The TLS layer, or null for plain TCP.
    tls_stream* tls() noexcept { return std::get_if<tls_stream>(&layers_); }
    [[nodiscard]] bool is_tls() const noexcept {
        return std::holds_alternative<tls_stream>(layers_);
    }

    template <class MutableBufferSequence, class ReadToken>
    auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
        return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& b) {
                if (auto* tls_layer = tls()) {
                    tls_layer->async_read_some(b, std::move(handler));
                } else {
                    plain().async_read_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

    template <class ConstBufferSequence, class WriteToken>
    auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
        return boost::asio::async_initiate<WriteToken,
                                           void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& b) {
                if (auto* tls_layer = tls()) {
                    tls_layer->async_write_some(b, std::move(handler));
                } else {
                    plain().async_write_some(b, std::move(handler));
                }
            },
            token, buffers);
    }

private:
    boost::beast::tcp_stream& plain() noexcept {
        return *std::get_if<boost::beast::tcp_stream>(&layers_);
    }

    std::variant<boost::beast::tcp_stream, tls_stream> layers_;
};

}  // namespace switchboard::http
