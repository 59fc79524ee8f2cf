#include "hub/hub_connection.hpp"

#include "hub/hub_server.hpp"
#include "protocol/handshake.hpp"
#include "protocol/json_protocol.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::hub {

namespace {

// Every ping is the same bytes: encode once for the whole process.
const shared_buffer& json_ping() {
    static const shared_buffer ping = [] {
        std::string bytes;
        protocol::write_json_message(protocol::ping_message{}, bytes);
        return make_shared_buffer(std::move(bytes));
    }();
    return ping;
}

constexpr std::string_view closed_with_error = "Connection closed with an error.";

}  // namespace

hub_connection::hub_connection(hub_server& server, routing::hub_id hub,
                               const hub_definition& definition,
                               transport::connection_ptr connection)
    : server_(server),
      hub_(hub),
      definition_(definition),
      connection_(std::move(connection)),
      reader_(server.options().max_message_size),
      opened_at_(clock::now()),
      last_received_(opened_at_),
      last_ping_sent_(opened_at_) {
    // Development identity until JWT auth lands: the `user` query parameter.
    if (const auto* user = connection_->request().find_query("user")) {
        user_id_ = *user;
    }
}

void hub_connection::on_received(std::string_view bytes) {
    if (state_ != state::handshaking && state_ != state::connected) {
        return;
    }
    last_received_ = clock::now();
    reader_.append(bytes);
    std::string_view record;
    while (state_ == state::handshaking || state_ == state::connected) {
        const auto status = reader_.next(record);
        if (status == protocol::text_frame_reader::status::need_more) {
            return;
        }
        if (status == protocol::text_frame_reader::status::too_large) {
            if (state_ == state::handshaking) {
                return fail_handshake("Handshake was canceled.");
            }
            const auto limit = std::to_string(server_.options().max_message_size);
            return close_with_error("InvalidDataException: The maximum message size of " + limit +
                                        "B was exceeded. The message size can be configured in "
                                        "AddHubOptions.",
                                    true);
        }
        if (state_ == state::handshaking) {
            on_handshake(record);
            continue;
        }
        auto parsed = protocol::parse_json_message(record);
        if (!parsed) {
            return close_with_error("InvalidDataException: " + parsed.error_message(), true);
        }
        on_message(std::move(*parsed));
    }
}

void hub_connection::on_handshake(std::string_view record) {
    auto request = protocol::parse_handshake_request(record);
    if (!request) {
        std::string error = "An unexpected error occurred during connection handshake.";
        if (server_.options().detailed_errors) {
            error += " InvalidDataException: " + request.error_message();
        }
        return fail_handshake(error);
    }
    if (request->protocol != "json") {
        return fail_handshake("The protocol '" + request->protocol + "' is not supported.");
    }
    // Version 2 adds Ack/Sequence (stateful reconnect); both are understood by the parser.
    if (request->version > 2 || request->version < 0) {
        return fail_handshake("The server does not support version " +
                              std::to_string(request->version) + " of the '" + request->protocol +
                              "' protocol.");
    }
    connection_->set_format(transport::transfer_format::text);
    std::string response;
    protocol::write_handshake_response(std::nullopt, response);
    send_bytes(std::move(response));
    state_ = state::connected;
    last_ping_sent_ = clock::now();
    server_.router().add_connection(hub_, connection_->id(), user_id_, *this);
    registered_ = true;
    hub_context context(server_.router(), hub_, connection_->id(), user_id_,
                        connection_->request());
    definition_.connected(context);
}

void hub_connection::on_message(protocol::hub_message&& message) {
    std::visit(
        [this](auto&& m) {
            using type = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<type, protocol::invocation_message>) {
                on_invocation(std::move(m));
            } else if constexpr (std::is_same_v<type, protocol::stream_invocation_message>) {
                on_stream_invocation(m);
            } else if constexpr (std::is_same_v<type, protocol::ping_message>) {
                client_pings_ = true;
            } else if constexpr (std::is_same_v<type, protocol::close_message>) {
                // The client is leaving: answer with a plain Close, no reconnect.
                close(std::nullopt, false);
            }
            // StreamItem, Completion, CancelInvocation for unknown ids, Ack/Sequence without
            // stateful reconnect, and unknown types are ignored, as ASP.NET does.
        },
        std::move(message));
}

void hub_connection::on_invocation(protocol::invocation_message&& invocation) {
    const auto* method = definition_.find_method(invocation.target);
    const auto& id = invocation.invocation_id;
    if (method == nullptr) {
        if (id) {
            send_completion(protocol::completion_message::with_error(
                *id, "Unknown hub method '" + invocation.target + "'"));
        }
        return;
    }
    if (!invocation.stream_ids.empty()) {
        if (id) {
            send_completion(protocol::completion_message::with_error(
                *id, "An unexpected error occurred invoking '" + method->name +
                         "' on the server. HubException: Client sent " +
                         std::to_string(invocation.stream_ids.size()) +
                         " stream(s), Hub method expects 0."));
        }
        return;
    }
    hub_context context(server_.router(), hub_, connection_->id(), user_id_,
                        connection_->request());
    auto outcome = method->invoke(context, invocation.arguments);
    if (!id) {
        return;  // a send: the caller expects no answer, not even an error
    }
    switch (outcome.result_status) {
    case invocation_outcome::status::ok:
        return send_completion(
            protocol::completion_message::with_result(*id, std::move(outcome.result)));
    case invocation_outcome::status::binding_error: {
        std::string error =
            "Failed to invoke '" + method->name + "' due to an error on the server.";
        if (server_.options().detailed_errors) {
            error += " InvalidDataException: " + outcome.message;
        }
        return send_completion(protocol::completion_message::with_error(*id, std::move(error)));
    }
    case invocation_outcome::status::hub_error:
        return send_completion(protocol::completion_message::with_error(
            *id, "An unexpected error occurred invoking '" + method->name +
                     "' on the server. HubException: " + outcome.message));
    }
}

void hub_connection::on_stream_invocation(const protocol::stream_invocation_message& invocation) {
    const auto* method = definition_.find_method(invocation.target);
    if (method == nullptr) {
        return send_completion(protocol::completion_message::with_error(
            invocation.invocation_id, "Unknown hub method '" + invocation.target + "'"));
    }
    send_completion(protocol::completion_message::with_error(
        invocation.invocation_id, "The client attempted to invoke the non-streaming '" +
                                      method->name + "' method with a streaming invocation."));
}

void hub_connection::send_completion(const protocol::completion_message& completion) {
    std::string bytes;
    protocol::write_json_message(completion, bytes);
    send_bytes(std::move(bytes));
}

void hub_connection::send_bytes(std::string bytes) {
    connection_->send(make_shared_buffer(std::move(bytes)));
}

void hub_connection::deliver(const routing::message_ptr& message) {
    if (state_ == state::connected) {
        connection_->send(message->encoded(routing::wire_protocol::json));
    }
}

void hub_connection::fail_handshake(std::string_view error) {
    state_ = state::closing;
    std::string response;
    protocol::write_handshake_response(error, response);
    connection_->close_after(make_shared_buffer(std::move(response)));
}

void hub_connection::close_with_error(std::string_view detail, bool allow_reconnect) {
    std::string error(closed_with_error);
    if (server_.options().detailed_errors) {
        error += ' ';
        error += detail;
    }
    spdlog::debug("closing connection {}: {}", connection_->id(), detail);
    close(std::move(error), allow_reconnect);
}

void hub_connection::close(std::optional<std::string> error, bool allow_reconnect) {
    if (state_ == state::closing || state_ == state::closed) {
        return;
    }
    if (state_ == state::handshaking) {
        state_ = state::closing;
        return connection_->close_after(nullptr);
    }
    state_ = state::closing;
    std::string bytes;
    protocol::write_json_message(protocol::close_message{std::move(error), allow_reconnect}, bytes);
    connection_->close_after(make_shared_buffer(std::move(bytes)));
}

void hub_connection::close_for_shutdown() {
    close(std::nullopt, true);
}

void hub_connection::on_heartbeat(clock::time_point now) {
    const auto& options = server_.options();
    if (state_ == state::handshaking) {
        if (now - opened_at_ >= options.handshake_timeout) {
            fail_handshake("Handshake was canceled.");
        }
        return;
    }
    if (state_ != state::connected) {
        return;
    }
    if (client_pings_ && now - last_received_ >= options.client_timeout) {
        return close_with_error(
            "TimeoutException: Client hasn't sent a message/ping within the configured "
            "ClientTimeoutInterval.",
            true);
    }
    // Long polling has inherent keep-alive: a ping would only end a held poll early.
    if (connection_->transport() != transport::transport_kind::long_polling &&
        now - last_ping_sent_ >= options.keep_alive_interval) {
        last_ping_sent_ = now;
        connection_->send(json_ping());
    }
}

void hub_connection::on_transport_closed() {
    state_ = state::closed;
    server_.forget(this);
    if (!registered_) {
        return;
    }
    server_.router().remove_connection(hub_, connection_->id());
    hub_context context(server_.router(), hub_, connection_->id(), user_id_,
                        connection_->request());
    definition_.disconnected(context);
}

}  // namespace switchboard::hub
