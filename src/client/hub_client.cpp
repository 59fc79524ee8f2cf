#include "client/hub_client.hpp"

#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "protocol/text_framing.hpp"

#include <boost/json/parse.hpp>

#include <variant>

namespace switchboard::client {

hub_client::hub_client(boost::asio::any_io_executor executor)
    : ws_(std::move(executor)), reader_(std::size_t{1024} * 1024) {}

void hub_client::start(connect_options options, open_handler handler) {
    options_ = std::move(options);
    on_open_ = std::move(handler);
    reader_ = protocol::message_reader(options_.max_message_size);
    state_ = state::connecting;
    ws_.start(websocket_options_of(options_), *this, shared_from_this());
}

void hub_client::on_ws_open() {
    pending_ = options_.protocol == hub_protocol::json
                   ? R"({"protocol":"json","version":1})"
                   : R"({"protocol":"messagepack","version":1})";
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
