// The client's transports behind one interface: WebSockets, Server-Sent Events and long polling
// each carry a byte stream of hub messages between hub_connection and a server.
#pragma once

#include "core/expected.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/url/url.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::client {

// Bit flags with the official clients' values (HttpTransportType), so masks read the same.
enum class transport_type : unsigned {
    none = 0,
    websockets = 1,
    server_sent_events = 2,
    long_polling = 4,
    all = 7,
};
constexpr transport_type operator|(transport_type a, transport_type b) noexcept {
    return static_cast<transport_type>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool has_transport(transport_type mask, transport_type one) noexcept {
    return (static_cast<unsigned>(mask) & static_cast<unsigned>(one)) != 0;
}
// "WebSockets", "ServerSentEvents", "LongPolling": the names negotiate uses.
std::string_view transport_name(transport_type type) noexcept;

// Text for JSON, Binary for MessagePack; Server-Sent Events carry Text only.
enum class transfer_format : unsigned char { text, binary };

namespace detail {

// What every HTTP request of one connection attempt carries. Copied into each transport.
struct http_context {
    boost::asio::any_io_executor executor;  // the connection's strand: every callback runs on it
    std::shared_ptr<boost::asio::ssl::context> tls;  // https and wss; verification per options
    std::vector<std::pair<std::string, std::string>> headers;  // user headers and User-Agent
    std::optional<std::string> access_token;  // sent as "Authorization: Bearer <token>"
    // The official clients' HTTP timeout, for negotiate, POST and DELETE (not for polls).
    std::chrono::milliseconds request_timeout{100'000};
    // Whatever the server sends in one WebSocket message, SSE event or poll is at most this.
    std::size_t max_message_size = 16 * 1024 * 1024;
};

// What a transport reports, always on the context's executor, never after stop() returned.
class transport_listener {
public:
    // Bytes from the server: one or more whole hub messages (or the handshake response).
    virtual void on_transport_data(std::string_view data) = 0;
    // Once per started transport: the server closed it or it failed. `error` is empty for a
    // clean end (WebSocket close 1000, long poll 204, SSE stream completed).
    virtual void on_transport_closed(std::optional<std::string> error) = 0;

protected:
    ~transport_listener() = default;
};

class transport : public std::enable_shared_from_this<transport> {
public:
    virtual ~transport() = default;

    // Connects to `url`: the hub's http(s) URL with id=<token> already in its query (WebSockets
    // switch the scheme to ws(s) themselves). `on_started` runs once; only after success will
    // on_transport_data and on_transport_closed follow.
    virtual void start(boost::urls::url url, transfer_format format,
                       std::function<void(expected<void>)> on_started) = 0;
    // Queues bytes (whole hub messages) to the server, sent in order. Sends queued while one is in
    // flight leave together (one WebSocket message, one POST).
    virtual void send(std::string data) = 0;
    // Ends the transport (WebSocket close frame, DELETE for long polling) and falls silent:
    // the listener hears nothing more. Idempotent. Called before start completed, it also
    // silences on_started, which then never runs. Bytes already accepted by send() are still
    // written (best effort, unreported) before the close frame or after the POST in flight.
    virtual void stop() = 0;
    // Bytes accepted by send() and not yet written.
    [[nodiscard]] virtual std::size_t buffered_bytes() const noexcept = 0;
    [[nodiscard]] virtual transport_type type() const noexcept = 0;
};

// `listener` must outlive the transport's last callback (it is held by reference). Null for a
// type that is not exactly one transport (none, all, a mask).
std::shared_ptr<transport> make_transport(transport_type type, http_context context,
                                          transport_listener& listener);

}  // namespace detail
}  // namespace switchboard::client
