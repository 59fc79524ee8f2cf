// A server that misbehaves (a wrong handshake, garbage frames, an oversized message, no
// upgrade at all) gives the client a clear error, never a crash or a hang.
#include "client/hub_connection.hpp"

#include "client_test_support.hpp"

#include <gtest/gtest.h>

#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::client {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::asio::ip::tcp;
using testing::collector;
using testing::eventually;

// Accepts one connection; with `upgrade`, completes the WebSocket upgrade, reads the client's
// handshake and writes each of `replies` as one text message, else writes them as raw bytes.
// Then it waits for the client to go.
class scripted_server {
public:
    scripted_server(std::vector<std::string> replies, bool upgrade)
        : acceptor_(context_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
          thread_([this, replies = std::move(replies), upgrade] { serve(replies, upgrade); }) {}
    ~scripted_server() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        thread_.join();
    }
    scripted_server(const scripted_server&) = delete;
    scripted_server& operator=(const scripted_server&) = delete;

    [[nodiscard]] std::string url() const {
        return "ws://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hub";
    }

private:
    void serve(const std::vector<std::string>& replies, bool upgrade) {
        boost::system::error_code ec;
        tcp::socket socket(context_);
        acceptor_.accept(socket, ec);
        if (ec) {
            return;
        }
        if (!upgrade) {
            beast::flat_buffer request;
            beast::http::request<beast::http::string_body> head;
            beast::http::read(socket, request, head, ec);
            for (const auto& reply : replies) {
                boost::asio::write(socket, boost::asio::buffer(reply), ec);
            }
            socket.shutdown(tcp::socket::shutdown_send, ec);
            std::array<char, 512> drain{};
            while (!ec) {
                socket.read_some(boost::asio::buffer(drain), ec);
            }
            return;
        }
        websocket::stream<tcp::socket> ws(std::move(socket));
        ws.accept(ec);
        beast::flat_buffer buffer;
        ws.read(buffer, ec);
        ws.text(true);
        for (const auto& reply : replies) {
            ws.write(boost::asio::buffer(reply), ec);
        }
        while (!ec) {
            buffer.clear();
            ws.read(buffer, ec);
            if (!ec) {
                received.add(beast::buffers_to_string(buffer.data()));
            }
        }
    }

public:
    // What the client sent after its handshake, message by message.
    collector<std::string> received;

private:
    boost::asio::io_context context_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

hub_connection_options direct(std::size_t max_message_size = 16 * 1024 * 1024) {
    hub_connection_options options;
    options.transports = transport_type::websockets;
    options.skip_negotiation = true;
    options.max_message_size = max_message_size;
    options.handshake_timeout = std::chrono::seconds(5);
    return options;
}

// The error start() fails with.
std::string start_error(const std::string& reply, bool upgrade) {
    scripted_server server({reply}, upgrade);
    hub_connection connection(server.url(), direct());
    try {
        connection.start().get();
    } catch (const hub_error& e) {
        return e.what();
    }
    return "started";
}

std::string close_error(scripted_server& server, const hub_connection_options& options);

// How a connection that started ends.
std::string close_error(std::vector<std::string> replies, std::size_t max_message_size) {
    scripted_server server(std::move(replies), true);
    return close_error(server, direct(max_message_size));
}

std::string close_error(scripted_server& server, const hub_connection_options& options) {
    hub_connection connection(server.url(), options);
    collector<std::optional<std::string>> closed;
    connection.on_closed([&](std::optional<std::string> e) { closed.add(std::move(e)); });
    try {
        connection.start().get();
    } catch (const hub_error& e) {
        return std::string("start failed: ") + e.what();
    }
    if (!eventually([&] { return closed.size() == 1; })) {
        return "still open";
    }
    return closed.at(0).value_or("closed without an error");
}

TEST(client_bad_server, handshake_errors_fail_start) {
    EXPECT_NE(start_error("{\"error\":\"nope\"}\x1e", true).find("handshake error: nope"),
              std::string::npos);
    EXPECT_NE(start_error("hello\x1e", true).find("handshake"), std::string::npos);
    EXPECT_NE(start_error("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false)
                  .find("500"),
              std::string::npos);
    EXPECT_NE(start_error("not http at all", false), "started");
}

TEST(client_bad_server, garbage_and_oversized_messages_close_with_an_error) {
    EXPECT_NE(close_error({"{}\x1e", "{\"type\":1,\"target\":\x1e"}, 1024).find("does not parse"),
              std::string::npos);
    // One WebSocket message over the limit, and a hub message over it spread over several.
    EXPECT_NE(
        close_error({"{}\x1e", std::string(4096, 'a')}, 1024).find("exceeds the maximum size"),
        std::string::npos);
    const std::string part(800, 'a');
    EXPECT_NE(close_error({"{}\x1e", part, part}, 1024).find("larger than 1024 bytes"),
              std::string::npos);
}

TEST(client_bad_server, a_silent_server_times_out_while_the_client_pings) {
    scripted_server server({"{}\x1e"}, true);
    auto options = direct();
    options.keep_alive_interval = std::chrono::milliseconds(50);
    options.server_timeout = std::chrono::milliseconds(400);
    EXPECT_EQ(close_error(server, options),
              "Server timeout elapsed without receiving a message from the server.");
    const auto sent = server.received.all();
    EXPECT_NE(std::find(sent.begin(), sent.end(), "{\"type\":6}\x1e"), sent.end())
        << "no Ping among " << sent.size() << " messages";
}

TEST(client_bad_server, nothing_listening_fails_start) {
    boost::asio::io_context context;
    tcp::acceptor probe(context, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = probe.local_endpoint().port();
    probe.close();
    hub_connection connection("http://127.0.0.1:" + std::to_string(port) + "/hub");
    EXPECT_THROW(connection.start().get(), hub_error);
}

}  // namespace
}  // namespace switchboard::client
