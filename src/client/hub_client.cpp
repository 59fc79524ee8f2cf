#include "client/hub_client.hpp"

#include "client/source_socket.hpp"

#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <boost/asio/socket_base.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/stream_base.hpp>
#include <boost/json/parse.hpp>

#include <variant>

namespace switchboard::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

hub_client::hub_client(asio::any_io_executor executor)
    : ws_(std::move(executor)), reader_(std::size_t{1024} * 1024) {}

void hub_client::start(connect_options options, open_handler handler) {
    options_ = std::move(options);
    on_open_ = std::move(handler);
    reader_ = protocol::message_reader(options_.max_message_size);
    state_ = state::connecting;
    do_connect();
}

void hub_client::do_connect() {
    const auto ec =
        open_socket(beast::get_lowest_layer(ws_).socket(), options_.server, options_.source);
    if (ec) {
        return fail("connect: " + ec.message());
    }
    beast::get_lowest_layer(ws_).expires_after(options_.connect_timeout);
    beast::get_lowest_layer(ws_).async_connect(
        options_.server,
        [self = shared_from_this()](beast::error_code error) { self->on_connect(error); });
}

void hub_client::on_connect(beast::error_code ec) {
    if (ec) {
        return fail("connect: " + ec.message());
    }
    beast::error_code ignored;
    // Small frames leave at once: latency is what the generator measures.
    beast::get_lowest_layer(ws_).socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    ws_.read_message_max(options_.max_message_size);
    ws_.auto_fragment(false);
    ws_.async_handshake(
        options_.host, options_.target,
        [self = shared_from_this()](beast::error_code error) { self->on_upgrade(error); });
}

void hub_client::on_upgrade(beast::error_code ec) {
    if (ec) {
        return fail("upgrade: " + ec.message());
    }
    // The WebSocket layer's own timeouts from here on (handshake and close only, no idle
    // timeout): the hub protocol's pings keep the connection alive.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.text(true);
    pending_ = options_.protocol == hub_protocol::json
                   ? R"({"protocol":"json","version":1})"
                   : R"({"protocol":"messagepack","version":1})";
    pending_ += protocol::record_separator;
    do_write();
    do_read();
}

void hub_client::do_read() {
    ws_.async_read(read_buffer_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                       self->on_read(ec, bytes);
                   });
}

void hub_client::on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
        return fail(ec == websocket::error::closed
                        ? "closed by the server: " +
                              std::string(ws_.reason().reason.data(), ws_.reason().reason.size())
                        : "read: " + ec.message());
    }
    const auto data = read_buffer_.cdata();
    reader_.append(std::string_view(static_cast<const char*>(data.data()), data.size()));
    read_buffer_.consume(read_buffer_.size());
    for (;;) {
        std::string_view record;
        const auto status = reader_.next(record);
        if (status == protocol::message_reader::status::need_more) {
            break;
        }
        if (status != protocol::message_reader::status::record) {
            return fail("the server sent a message over the size limit or a bad frame");
        }
        if (!handle_record(record)) {
            return;
        }
    }
    do_read();
}

bool hub_client::handle_record(std::string_view record) {
    if (!handshake_done_) {
        boost::system::error_code ec;
        const auto response = boost::json::parse(record, ec);
        if (ec || !response.is_object()) {
            fail("handshake: unreadable response");
            return false;
        }
        if (const auto* error = response.get_object().if_contains("error")) {
            fail("handshake: " +
                 (error->is_string() ? std::string(error->get_string()) : std::string("refused")));
            return false;
        }
        handshake_done_ = true;
        if (options_.protocol == hub_protocol::messagepack) {
            reader_.start(protocol::message_reader::framing::binary);
            ws_.binary(true);
        } else {
            reader_.start(protocol::message_reader::framing::text);
        }
        state_ = state::open;
        if (auto handler = std::exchange(on_open_, nullptr)) {
            handler(expected<void>());
        }
        return state_ == state::open;
    }
    if (filter_ && !filter_(record)) {
        return true;
    }
    auto parsed = options_.protocol == hub_protocol::json
                      ? protocol::parse_json_message(record)
                      : protocol::parse_messagepack_message(record);
    if (!parsed) {
        fail("unreadable message: " + parsed.error_message());
        return false;
    }
    if (auto* invocation = std::get_if<protocol::invocation_message>(&*parsed)) {
        if (on_invocation_) {
            on_invocation_(*invocation);
        }
    } else if (auto* completion = std::get_if<protocol::completion_message>(&*parsed)) {
        if (on_completion_) {
            on_completion_(*completion);
        }
    } else if (auto* closing = std::get_if<protocol::close_message>(&*parsed)) {
        fail("the server closed the hub connection" +
             (closing->error ? ": " + *closing->error : std::string()));
        return false;
    }
    return state_ == state::open;
}

void hub_client::send(std::string_view target, const boost::json::array& arguments,
                      std::optional<std::string> invocation_id) {
    if (state_ != state::open) {
        return;
    }
    const bool json = options_.protocol == hub_protocol::json;
    if (!invocation_id) {
        // A client invocation without an id has the server-to-client layout: the codecs'
        // hot path serves both directions.
        if (json) {
            protocol::write_json_invocation(target, arguments, pending_);
        } else {
            protocol::write_messagepack_invocation(target, arguments, pending_);
        }
    } else {
        protocol::invocation_message message;
        message.invocation_id = std::move(invocation_id);
        message.target = std::string(target);
        message.arguments = arguments;
        if (json) {
            protocol::write_json_message(message, pending_);
        } else {
            protocol::write_messagepack_message(message, pending_);
        }
    }
    do_write();
}

void hub_client::send_ping() {
    if (state_ != state::open) {
        return;
    }
    if (options_.protocol == hub_protocol::json) {
        protocol::write_json_message(protocol::ping_message{}, pending_);
    } else {
        protocol::write_messagepack_message(protocol::ping_message{}, pending_);
    }
    do_write();
}

void hub_client::do_write() {
    if (write_in_flight_ || pending_.empty()) {
        return;
    }
    write_in_flight_ = true;
    writing_.clear();
    std::swap(writing_, pending_);
    ws_.async_write(asio::buffer(writing_),
                    [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                        self->on_write(ec, bytes);
                    });
}

void hub_client::on_write(beast::error_code ec, std::size_t /*bytes*/) {
    write_in_flight_ = false;
    if (ec) {
        return fail("write: " + ec.message());
    }
    do_write();
}

void hub_client::close() {
    if (state_ == state::closed) {
        return;
    }
    fail("closed by the client");
}

void hub_client::fail(const std::string& reason) {
    if (state_ == state::closed) {
        return;
    }
    const bool was_open = state_ == state::open;
    state_ = state::closed;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
    pending_.clear();
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(make_error(reason));
    }
    if (was_open && on_close_) {
        on_close_(reason);
    }
}

}  // namespace switchboard::client
