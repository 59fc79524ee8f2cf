// What the client tests share: polling with a deadline, a thread-safe collector for what
// handlers see, a one-shot HTTP GET, and a TCP proxy whose connections a test can cut.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::testing {

// Polls `done` until it holds or `limit` passes.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) {
            return true;
        }
        // Handlers run on the connections' threads: give them the core between looks.
        std::this_thread::yield();
    }
    return done();
}

// What handlers on other threads saw, in order.
template <class T>
class collector {
public:
    void add(T item) {
        const std::lock_guard lock(mutex_);
        items_.push_back(std::move(item));
    }
    [[nodiscard]] std::size_t size() const {
        const std::lock_guard lock(mutex_);
        return items_.size();
    }
    [[nodiscard]] T at(std::size_t i) const {
        const std::lock_guard lock(mutex_);
        return items_.at(i);
    }
    [[nodiscard]] std::vector<T> all() const {
        const std::lock_guard lock(mutex_);
        return items_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<T> items_;
};

// GET base_url + target over plain HTTP; the body, empty on any failure.
inline std::string http_get(const std::string& base_url, const std::string& target) {
    namespace beast = boost::beast;
    const auto url = boost::urls::parse_uri(base_url);
    if (!url) {
        return {};
    }
    boost::asio::io_context context;
    beast::tcp_stream stream(context);
    boost::system::error_code ec;
    boost::asio::ip::tcp::resolver resolver(context);
    const auto endpoints = resolver.resolve(url->host(), url->port(), ec);
    if (ec) {
        return {};
    }
    stream.connect(endpoints, ec);
    beast::http::request<beast::http::empty_body> request{beast::http::verb::get, target, 11};
    request.set(beast::http::field::host, url->encoded_host_and_port());
    beast::http::write(stream, request, ec);
    beast::flat_buffer buffer;
    beast::http::response<beast::http::string_body> response;
    beast::http::read(stream, buffer, response, ec);
    return ec ? std::string() : response.body();
}

// Forwards 127.0.0.1:port() to `target_port`; cut() drops every connection at once, without a
// WebSocket close, as a network failure does. Runs on a thread of its own.
class tcp_proxy {
public:
    explicit tcp_proxy(std::uint16_t target_port)
        : target_(boost::asio::ip::make_address("127.0.0.1"), target_port),
          acceptor_(context_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        do_accept();
        thread_ = std::thread([this] { context_.run(); });
    }
    ~tcp_proxy() {
        context_.stop();
        thread_.join();
    }
    tcp_proxy(const tcp_proxy&) = delete;
    tcp_proxy& operator=(const tcp_proxy&) = delete;

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void cut() {
        boost::asio::post(context_, [this] {
            for (auto& weak : pairs_) {
                if (auto p = weak.lock()) {
                    boost::system::error_code ec;
                    p->client.close(ec);
                    p->server.close(ec);
                }
            }
            pairs_.clear();
        });
    }

private:
    struct pair {
        explicit pair(boost::asio::io_context& context) : client(context), server(context) {}
        boost::asio::ip::tcp::socket client;
        boost::asio::ip::tcp::socket server;
        std::array<char, 16384> up{};
        std::array<char, 16384> down{};
    };

    void do_accept() {
        auto p = std::make_shared<pair>(context_);
        acceptor_.async_accept(p->client, [this, p](const boost::system::error_code& ec) {
            if (ec) {
                return;
            }
            p->server.async_connect(target_, [this, p](const boost::system::error_code& error) {
                if (error) {
                    return;
                }
                pairs_.push_back(p);
                pump(p, p->client, p->server, p->up);
                pump(p, p->server, p->client, p->down);
            });
            do_accept();
        });
    }

    static void pump(const std::shared_ptr<pair>& p, boost::asio::ip::tcp::socket& from,
                     boost::asio::ip::tcp::socket& to, std::array<char, 16384>& buffer) {
        from.async_read_some(
            boost::asio::buffer(buffer),
            [p, &from, &to, &buffer](const boost::system::error_code& ec, std::size_t n) {
                if (ec) {
                    boost::system::error_code ignored;
                    to.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
                    return;
                }
                boost::asio::async_write(
                    to, boost::asio::buffer(buffer.data(), n),
                    [p, &from, &to, &buffer](const boost::system::error_code& error, std::size_t) {
                        if (!error) {
                            pump(p, from, to, buffer);
                        }
                    });
            });
    }

    boost::asio::io_context context_;
    boost::asio::ip::tcp::endpoint target_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::vector<std::weak_ptr<pair>> pairs_;
    std::thread thread_;
};

}  // namespace switchboard::testing
