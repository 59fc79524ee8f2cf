#include "client/hub_client.hpp"

#include "client/source_socket.hpp"
#include "client/transport/negotiate_client.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <variant>

namespace switchboard::client {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::optional<int> peek_message_type(std::string_view record, hub_protocol protocol) noexcept {
    if (protocol == hub_protocol::messagepack) {
        // A fixarray (0x90-0x9f: every hub message has at most 7 items), then the type as a
        // positive fixint.
        if (record.size() < 2 || (static_cast<unsigned char>(record[0]) & 0xf0U) != 0x90U ||
            (static_cast<unsigned char>(record[1]) & 0x80U) != 0) {
            return std::nullopt;
        }
        return static_cast<int>(record[1]);
    }
    constexpr std::string_view prefix = R"({"type":)";
    if (!record.starts_with(prefix)) {
        return std::nullopt;
    }
    int type = 0;
    std::size_t i = prefix.size();
    // Hub message types have one digit today; two leave room for new ones.
    for (; i < record.size() && i < prefix.size() + 2 && record[i] >= '0' && record[i] <= '9';
         ++i) {
        type = type * 10 + (record[i] - '0');
    }
    if (i == prefix.size() || i == record.size() || (record[i] != ',' && record[i] != '}')) {
        return std::nullopt;
    }
    return type;
}

void write_ack(std::int64_t sequence_id, hub_protocol protocol, std::string& out) {
    // A variant of trivial alternatives: building the message allocates nothing, and `out`
    // keeps its capacity between writes.
    if (protocol == hub_protocol::json) {
        protocol::write_json_message(protocol::ack_message{sequence_id}, out);
    } else {
        protocol::write_messagepack_message(protocol::ack_message{sequence_id}, out);
    }
}

// Lives from start() until negotiate answered; the handlers hold it, so closing the client
// while a request is in flight leaves them something valid to complete on.
struct hub_client::negotiation {
    explicit negotiation(const asio::any_io_executor& executor)
        : socket(executor), deadline(executor) {}

    asio::ip::tcp::socket socket;
    asio::steady_timer deadline;
    boost::beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    http::response_parser<http::string_body> response;
};

hub_client::hub_client(boost::asio::any_io_executor executor)
    : ws_(std::move(executor)), reader_(std::size_t{1024} * 1024) {}

void hub_client::start(connect_options options, open_handler handler) {
    options_ = std::move(options);
    on_open_ = std::move(handler);
    reader_ = protocol::message_reader(options_.max_message_size);
    state_ = state::connecting;
    if (options_.stateful) {
        return do_negotiate();
    }
    do_connect();
}

void hub_client::do_connect() {
    ws_.start(websocket_options_of(options_), *this, shared_from_this());
}

void hub_client::do_negotiate() {
    const auto target = boost::urls::parse_origin_form(options_.target);
    if (!target) {
        return fail("negotiate: bad target " + options_.target);
    }
    boost::urls::url url(*target);
    url.set_encoded_path(std::string(url.encoded_path()) + "/negotiate");
    url.params().append({"negotiateVersion", "1"});
    url.params().append({"useStatefulReconnect", "true"});

    auto request = std::make_shared<negotiation>(ws_.get_executor());
    negotiation_ = request;
    if (const auto ec = open_socket(request->socket, options_.server, options_.source)) {
        return fail("negotiate: connect: " + ec.message());
    }
    request->request.method(http::verb::post);
    request->request.target(url.encoded_target());
    request->request.set(http::field::host, options_.host);
    // The server closes: the connection's TIME_WAIT stays off the generator's ports.
    request->request.set(http::field::connection, "close");
    request->request.prepare_payload();
    // A negotiate answer is a few hundred bytes.
    request->response.body_limit(64 * 1024);
    request->deadline.expires_after(options_.connect_timeout);
    request->deadline.async_wait(
        [this, keep = shared_from_this(), request](const boost::system::error_code& ec) {
            if (!ec && negotiation_ == request) {
                fail("negotiate: timed out");
            }
        });
    request->socket.async_connect(options_.server, [this, keep = shared_from_this(),
                                                    request](const boost::system::error_code& ec) {
        if (negotiation_ != request) {
            return;
        }
        if (ec) {
            return fail("negotiate: connect: " + ec.message());
        }
        http::async_write(
            request->socket, request->request,
            [this, keep, request](const boost::system::error_code& ec, std::size_t /*bytes*/) {
                if (negotiation_ != request) {
                    return;
                }
                if (ec) {
                    return fail("negotiate: " + ec.message());
                }
                http::async_read(request->socket, request->buffer, request->response,
                                 [this, keep, request](const boost::system::error_code& ec,
                                                       std::size_t /*bytes*/) {
                                     if (negotiation_ != request) {
                                         return;
                                     }
                                     if (ec) {
                                         return fail("negotiate: " + ec.message());
                                     }
                                     on_negotiated(request);
                                 });
            });
    });
}

void hub_client::on_negotiated(const std::shared_ptr<negotiation>& request) {
    negotiation_.reset();
    request->deadline.cancel();
    boost::system::error_code ignored;
    request->socket.close(ignored);
    const auto& response = request->response.get();
    if (response.result() != http::status::ok) {
        return fail("negotiate: HTTP " + std::to_string(response.result_int()) + " " +
                    response.body());
    }
    auto negotiated = detail::parse_negotiate_response(response.body());
    if (!negotiated) {
        return fail("negotiate: " + negotiated.error_message());
    }
    if (!negotiated->use_stateful_reconnect) {
        return fail("negotiate: the server did not accept stateful reconnect");
    }
    boost::urls::url url(*boost::urls::parse_origin_form(options_.target));
    url.params().append({"id", negotiated->connection_token});
    options_.target = url.encoded_target();
    do_connect();
}

void hub_client::on_ws_open() {
    // Version 2 asks for stateful reconnect (Ack and Sequence messages).
    const bool json = options_.protocol == hub_protocol::json;
    pending_ = options_.stateful ? (json ? R"({"protocol":"json","version":2})"
                                         : R"({"protocol":"messagepack","version":2})")
                                 : (json ? R"({"protocol":"json","version":1})"
                                         : R"({"protocol":"messagepack","version":1})");
    pending_ += protocol::record_separator;
    do_write();
}

bool hub_client::on_ws_message(std::string_view payload, bool /*text*/) {
    reader_.append(payload);
    for (;;) {
        std::string_view record;
        const auto status = reader_.next(record);
        if (status == protocol::message_reader::status::need_more) {
            break;
        }
        if (status != protocol::message_reader::status::record) {
            fail("the server sent a message over the size limit or a bad frame");
            return false;
        }
        if (!handle_record(record)) {
            return false;
        }
    }
    return true;
}

void hub_client::on_ws_error(const std::string& reason) {
    fail(reason);
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
        } else {
            reader_.start(protocol::message_reader::framing::text);
        }
        state_ = state::open;
        if (auto handler = std::exchange(on_open_, nullptr)) {
            handler(expected<void>());
        }
        return state_ == state::open;
    }
    // Stateful: a record whose type cannot be peeked is parsed and counted whole below.
    bool count_parsed = false;
    if (options_.stateful) {
        if (const auto type = peek_message_type(record, options_.protocol)) {
            received_ += is_trackable(*type) ? 1 : 0;
        } else {
            count_parsed = true;
        }
    }
    if (!count_parsed && filter_ && !filter_(record)) {
        return true;
    }
    auto parsed = options_.protocol == hub_protocol::json
                      ? protocol::parse_json_message(record)
                      : protocol::parse_messagepack_message(record);
    if (!parsed) {
        fail("unreadable message: " + parsed.error_message());
        return false;
    }
    if (count_parsed) {
        // The variant's first five alternatives are the trackable types 1 to 5.
        received_ += parsed->index() < 5 ? 1 : 0;
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

void hub_client::send_ack() {
    if (state_ != state::open || !options_.stateful || received_ == acked_) {
        return;
    }
    acked_ = received_;
    write_ack(acked_, options_.protocol, pending_);
    do_write();
}

void hub_client::do_write() {
    // One frame per write: what accumulated while a write was in flight leaves together.
    if (ws_.writing() || pending_.empty()) {
        return;
    }
    const bool binary = handshake_done_ && options_.protocol == hub_protocol::messagepack;
    ws_.send(binary ? ws_opcode::binary : ws_opcode::text, pending_);
    pending_.clear();
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
    if (auto request = std::exchange(negotiation_, nullptr)) {
        request->deadline.cancel();
        boost::system::error_code ignored;
        request->socket.close(ignored);
    }
    ws_.close();
    pending_.clear();
    if (auto handler = std::exchange(on_open_, nullptr)) {
        handler(make_error(reason));
    }
    if (was_open && on_close_) {
        on_close_(reason);
    }
}

}  // namespace switchboard::client
