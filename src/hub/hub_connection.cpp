#include "hub/hub_connection.hpp"

#include "hub/hub_server.hpp"
#include "protocol/handshake.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace switchboard::hub {

namespace {

// Every ping is the same bytes: encode once per protocol for the whole process.
const shared_buffer& ping_bytes(routing::wire_protocol protocol) {
    static const shared_buffer json = [] {
        std::string bytes;
        protocol::write_json_message(protocol::ping_message{}, bytes);
        return make_shared_buffer(std::move(bytes));
    }();
    static const shared_buffer messagepack = [] {
        std::string bytes;
        protocol::write_messagepack_message(protocol::ping_message{}, bytes);
        return make_shared_buffer(std::move(bytes));
    }();
    return protocol == routing::wire_protocol::json ? json : messagepack;
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
    const auto& options = server.options();
    message_budget_ = token_bucket(
        rate_limit{options.max_messages_per_second, options.message_burst}, opened_at_);
    // An authenticated connection is its token's user, whatever the query says; only in
    // development mode (no authenticate hook, so no identity) does the `user` parameter count.
    const auto& request = connection_->request();
    if (request.identity) {
        user_id_ = request.identity->user_id;
    } else if (const auto* user = request.find_query("user")) {
        user_id_ = *user;
    }
}

void hub_connection::on_received(std::string_view bytes) {
    if (state_ != state::handshaking && state_ != state::connected) {
        return;
    }
    last_received_ = clock::now();
    const auto too_large = [this] {
        if (state_ == state::handshaking) {
            return fail_handshake("Handshake was canceled.");
        }
        const auto limit = std::to_string(server_.options().max_message_size);
        close_with_error("InvalidDataException: The maximum message size of " + limit +
                             "B was exceeded. The message size can be configured in "
                             "AddHubOptions.",
                         true);
    };
    reader_.append(bytes);
    std::string_view record;
    while (state_ == state::handshaking || state_ == state::connected) {
        switch (reader_.next(record)) {
        case protocol::message_reader::status::need_more:
            return;
        case protocol::message_reader::status::too_large:
            return too_large();
        case protocol::message_reader::status::invalid:
            return close_with_error(
                "FormatException: " + std::string(protocol::binary_prefix_too_large_error), true);
        case protocol::message_reader::status::record:
            on_record(record);
            break;
        }
    }
}

void hub_connection::on_record(std::string_view record) {
    if (state_ == state::handshaking) {
        return on_handshake(record);
    }
    if (auto* counters = connection_->metrics()) {
        counters->messages_received.add();
    }
    if (!within_message_rate()) {
        return;
    }
    auto parsed = protocol_ == routing::wire_protocol::json
                      ? protocol::parse_json_message(record)
                      : protocol::parse_messagepack_message(record);
    if (!parsed) {
        return close_with_error("InvalidDataException: " + parsed.error_message(), true);
    }
    on_message(std::move(*parsed));
}

bool hub_connection::within_message_rate() {
    const auto& options = server_.options();
    const rate_limit limit{options.max_messages_per_second, options.message_burst};
    if (message_budget_.try_take(limit, last_received_)) {
        return true;
    }
    if (auto* counters = connection_->metrics()) {
        counters->rejections_of(metric_limit::messages_per_second).add();
    }
    // The reason goes to the client even without detailed errors: it reveals nothing of the
    // server, and the client's developer needs it. No reconnect: it would only flood again.
    const auto reason = "Message rate limit exceeded: more than " +
                        std::to_string(static_cast<long long>(limit.per_second)) +
                        " messages per second.";
    spdlog::warn("closing connection {}: {}", connection_->id(), reason);
    close(std::string(closed_with_error) + ' ' + reason, false);
    return false;
}

void hub_connection::write(const protocol::hub_message& message, std::string& out) const {
    if (protocol_ == routing::wire_protocol::json) {
        protocol::write_json_message(message, out);
    } else {
        protocol::write_messagepack_message(message, out);
    }
}

void hub_connection::send_message(const protocol::hub_message& message) {
    std::string bytes;
    write(message, bytes);
    send_bytes(std::move(bytes));
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
    if (request->protocol == "messagepack") {
        if (!connection_->supports_binary()) {
            return fail_handshake(
                "Cannot use the 'messagepack' protocol on the current transport. The transport "
                "does not support 'Binary' transfer format.");
        }
        protocol_ = routing::wire_protocol::messagepack;
    } else if (request->protocol != "json") {
        return fail_handshake("The protocol '" + request->protocol + "' is not supported.");
    }
    // Version 2 adds Ack/Sequence (stateful reconnect); both are understood by the parser.
    if (request->version > 2 || request->version < 0) {
        return fail_handshake("The server does not support version " +
                              std::to_string(request->version) + " of the '" + request->protocol +
                              "' protocol.");
    }
    const bool json = protocol_ == routing::wire_protocol::json;
    connection_->set_format(json ? transport::transfer_format::text
                                 : transport::transfer_format::binary);
    reader_.start(json ? protocol::message_reader::framing::text
                       : protocol::message_reader::framing::binary);
    // Stateful reconnect needs both the negotiate request and a version 2 handshake.
    stateful_ = connection_->stateful() && request->version >= 2;
    connection_->set_stateful(stateful_);
    std::string response;
    protocol::write_handshake_response(std::nullopt, response);
    send_bytes(std::move(response));
    state_ = state::connected;
    last_ping_sent_ = clock::now();
    server_.router().add_connection(hub_, connection_->id(), user_id_, *this);
    registered_ = true;
    hub_context context(server_.router(), hub_, connection_->id(), user_id_, *connection_);
    definition_.connected(context);
}

bool hub_connection::accept_tracked() {
    if (!stateful_) {
        return true;
    }
    const auto id = next_receiving_id_++;
    if (id <= latest_received_id_) {
        return false;  // already processed before the reconnect
    }
    latest_received_id_ = id;
    return true;
}

void hub_connection::on_ack(std::int64_t sequence_id) {
    while (replay_ && !replay_->empty() && replay_->front().first <= sequence_id) {
        replay_bytes_ -= replay_->front().second->size();
        replay_->pop_front();
    }
}

void hub_connection::on_sequence(std::int64_t sequence_id) {
    if (sequence_id > next_receiving_id_) {
        return close_with_error(
            "InvalidOperationException: Sequence ID greater than amount of messages we've "
            "received.",
            true);
    }
    next_receiving_id_ = sequence_id;
}

void hub_connection::on_message(protocol::hub_message&& message) {
    std::visit(
        [this](auto&& m) {
            using type = std::decay_t<decltype(m)>;
            constexpr bool trackable = std::is_same_v<type, protocol::invocation_message> ||
                                       std::is_same_v<type, protocol::stream_invocation_message> ||
                                       std::is_same_v<type, protocol::stream_item_message> ||
                                       std::is_same_v<type, protocol::completion_message> ||
                                       std::is_same_v<type, protocol::cancel_invocation_message>;
            if constexpr (trackable) {
                if (!accept_tracked()) {
                    return;
                }
            }
            if constexpr (std::is_same_v<type, protocol::invocation_message>) {
                dispatch(std::move(m.invocation_id), m.target, m.arguments, m.stream_ids, false);
            } else if constexpr (std::is_same_v<type, protocol::stream_invocation_message>) {
                dispatch(std::move(m.invocation_id), m.target, m.arguments, m.stream_ids, true);
            } else if constexpr (std::is_same_v<type, protocol::stream_item_message>) {
                on_stream_item(std::move(m));
            } else if constexpr (std::is_same_v<type, protocol::completion_message>) {
                on_client_completion(std::move(m));
            } else if constexpr (std::is_same_v<type, protocol::cancel_invocation_message>) {
                on_cancel(m.invocation_id);
            } else if constexpr (std::is_same_v<type, protocol::ping_message>) {
                client_pings_ = true;
            } else if constexpr (std::is_same_v<type, protocol::close_message>) {
                // The client is leaving: answer with a plain Close, no reconnect.
                close(std::nullopt, false);
            } else if constexpr (std::is_same_v<type, protocol::ack_message>) {
                on_ack(m.sequence_id);
            } else if constexpr (std::is_same_v<type, protocol::sequence_message>) {
                if (stateful_) {
                    on_sequence(m.sequence_id);
                }
            }
            // Unknown message types are ignored, as ASP.NET does.
        },
        std::move(message));
}

std::string hub_connection::invocation_error(const std::string& method,
                                             const error& failure) const {
    std::string text = "An unexpected error occurred invoking '" + method + "' on the server.";
    if (failure.type.empty()) {
        text += " HubException: " + failure.message;
    } else if (server_.options().detailed_errors) {
        text += ' ';
        text += failure.type;
        text += ": ";
        text += failure.message;
    }
    return text;
}

void hub_connection::dispatch(std::optional<std::string> invocation_id, std::string_view target,
                              const boost::json::array& arguments,
                              const std::vector<std::string>& stream_ids, bool streaming) {
    const auto fail = [&](std::string error) {
        if (invocation_id) {
            send_completion(
                protocol::completion_message::with_error(*invocation_id, std::move(error)));
        }
    };
    const auto* method = definition_.find_method(target);
    if (method == nullptr) {
        return fail("Unknown hub method '" + std::string(target) + "'");
    }
    if (const auto& verified = connection_->request().identity;
        !method->policy.allows(verified ? &*verified : nullptr)) {
        return fail("Failed to invoke '" + method->name + "' because user is unauthorized");
    }
    const auto& signature = method->signature;
    if (signature.streaming != streaming) {
        return fail("The client attempted to invoke the " +
                    std::string(signature.streaming ? "streaming" : "non-streaming") + " '" +
                    method->name + "' method with a " +
                    (streaming ? "streaming" : "non-streaming") + " invocation.");
    }
    if (stream_ids.size() != signature.uploads) {
        return fail(invocation_error(method->name,
                                     make_error("Client sent " + std::to_string(stream_ids.size()) +
                                                " stream(s), Hub method expects " +
                                                std::to_string(signature.uploads) + ".")));
    }
    if (streaming && streams_.contains(*invocation_id)) {
        return fail("Invocation ID '" + *invocation_id + "' is already in use.");
    }
    // An upload id names one open stream: a second would orphan the first invocation's upload.
    for (auto id = stream_ids.begin(); id != stream_ids.end(); ++id) {
        if (uploads_.contains(*id) || std::find(stream_ids.begin(), id, *id) != id) {
            return fail("Stream ID '" + *id + "' is already in use.");
        }
    }

    invocation_resources resources;
    for (const auto& id : stream_ids) {
        auto upload = std::make_shared<detail::upload_state>();
        uploads_[id] = upload;
        resources.uploads.push_back(std::move(upload));
    }
    if (streaming) {
        resources.stream = std::make_shared<detail::server_stream_state>();
        resources.stream->connection = weak_from_this();
        resources.stream->invocation_id = *invocation_id;
        resources.stream->method = method->name;
        streams_[*invocation_id] = resources.stream;
    }
    if (signature.deferred) {
        resources.reply = std::make_shared<detail::reply_state>();
        resources.reply->connection = weak_from_this();
        resources.reply->invocation_id = invocation_id;
        resources.reply->method = method->name;
        resources.reply->upload_ids = stream_ids;
    }

    hub_context context(server_.router(), hub_, connection_->id(), user_id_, *connection_);
    auto outcome = method->invoke(context, arguments, resources);
    switch (outcome.result_status) {
    case invocation_outcome::status::pending:
        return;  // the reply handle answers later
    case invocation_outcome::status::ok:
        if (streaming) {
            return;  // the stream_writer handle completes the stream
        }
        close_uploads(stream_ids);
        if (invocation_id) {
            send_completion(protocol::completion_message::with_result(*invocation_id,
                                                                      std::move(outcome.result)));
        }
        return;
    case invocation_outcome::status::binding_error: {
        std::string error =
            "Failed to invoke '" + method->name + "' due to an error on the server.";
        if (server_.options().detailed_errors) {
            error += " InvalidDataException: " + outcome.failure.message;
        }
        close_uploads(stream_ids);
        return fail(std::move(error));
    }
    case invocation_outcome::status::hub_error:
        // The method refused before streaming or replying: its handles must stay silent.
        if (resources.stream) {
            resources.stream->finished = true;
            streams_.erase(*invocation_id);
        }
        if (resources.reply) {
            resources.reply->done = true;
        }
        close_uploads(stream_ids);
        return fail(invocation_error(method->name, outcome.failure));
    }
}

void hub_connection::on_stream_item(protocol::stream_item_message&& item) {
    const auto it = uploads_.find(item.invocation_id);
    if (it != uploads_.end()) {
        it->second->push(std::move(item.item));
    }
    // Items for unknown stream ids are ignored, as ASP.NET does.
}

void hub_connection::on_client_completion(protocol::completion_message&& completion) {
    if (const auto upload = uploads_.find(completion.invocation_id); upload != uploads_.end()) {
        auto state = std::move(upload->second);
        uploads_.erase(upload);
        return state->end(std::move(completion.error));
    }
    const auto pending = pending_results_.find(completion.invocation_id);
    if (pending == pending_results_.end()) {
        return;  // neither an upload nor a client result we wait for: ignored
    }
    auto on_result = std::move(pending->second.on_result);
    pending_results_.erase(pending);
    if (completion.error) {
        return on_result(make_error(std::move(*completion.error)));
    }
    on_result(completion.result ? std::move(*completion.result) : boost::json::value(nullptr));
}

void hub_connection::on_cancel(const std::string& invocation_id) {
    const auto it = streams_.find(invocation_id);
    if (it == streams_.end()) {
        return;  // unknown or already finished: nothing to cancel
    }
    if (auto stream = it->second.lock()) {
        stream->cancelled = true;
        if (auto handler = std::move(stream->on_cancel)) {
            handler();
        }
        stream->finish(std::nullopt);
    } else {
        streams_.erase(it);
    }
}

void hub_connection::close_uploads(const std::vector<std::string>& upload_ids) {
    for (const auto& id : upload_ids) {
        const auto it = uploads_.find(id);
        if (it != uploads_.end()) {
            auto state = std::move(it->second);
            uploads_.erase(it);
            state->end(std::nullopt);
        }
    }
}

void hub_connection::send_stream_item(const std::string& invocation_id, boost::json::value item) {
    protocol::stream_item_message message;
    message.invocation_id = invocation_id;
    message.item = std::move(item);
    std::string bytes;
    write(message, bytes);
    send_tracked(make_shared_buffer(std::move(bytes)));
}

void hub_connection::end_stream(detail::server_stream_state& stream, std::optional<error> failure) {
    streams_.erase(stream.invocation_id);
    if (!active()) {
        return;
    }
    if (!failure) {
        return send_completion(protocol::completion_message::empty(stream.invocation_id));
    }
    std::string text = "An error occurred on the server while streaming results.";
    if (server_.options().detailed_errors) {
        text += ' ';
        text += failure->type.empty() ? std::string_view("HubException") : failure->type;
        text += ": ";
        text += failure->message;
    }
    send_completion(protocol::completion_message::with_error(stream.invocation_id, text));
}

void hub_connection::end_invocation(detail::reply_state& reply, std::optional<error> failure,
                                    boost::json::value result) {
    close_uploads(reply.upload_ids);
    if (!active() || !reply.invocation_id) {
        return;
    }
    if (failure) {
        return send_completion(protocol::completion_message::with_error(
            *reply.invocation_id, invocation_error(reply.method, *failure)));
    }
    send_completion(
        protocol::completion_message::with_result(*reply.invocation_id, std::move(result)));
}

void hub_connection::invoke(const routing::message_ptr& message, std::chrono::milliseconds timeout,
                            routing::result_callback on_result) {
    if (!active()) {
        return on_result(make_error("Connection '" + connection_->id() + "' disconnected."));
    }
    std::string id = message->invocation_id();
    shared_buffer bytes;
    if (!id.empty()) {
        // Another instance chose the id (unique across servers) and framed the invocation.
        bytes = message->encoded(protocol_);
        if (!bytes) {
            return on_result(
                make_error("The invocation was not serialized for this client's "
                           "protocol."));
        }
    } else {
        // "s" keeps server ids apart from the ids clients choose for their upload streams.
        id = "s";
        id += std::to_string(next_result_id_++);
        protocol::invocation_message invocation;
        invocation.invocation_id = id;
        invocation.target = message->target();
        invocation.arguments = message->arguments();
        std::string framed;
        write(invocation, framed);
        bytes = make_shared_buffer(std::move(framed));
    }
    pending_results_.emplace(std::move(id),
                             pending_result{std::move(on_result), clock::now() + timeout});
    send_tracked(std::move(bytes));
}

void hub_connection::send_completion(const protocol::completion_message& completion) {
    std::string bytes;
    write(completion, bytes);
    send_tracked(make_shared_buffer(std::move(bytes)));
}

void hub_connection::send_tracked(shared_buffer bytes) {
    if (stateful_) {
        if (!replay_) {
            replay_.emplace();
        }
        replay_bytes_ += bytes->size();
        replay_->emplace_back(++sent_count_, bytes);
        if (replay_bytes_ > server_.options().stateful_reconnect_buffer_size) {
            // The client does not ack fast enough to keep a bounded replay: stay connected,
            // but a dropped socket now ends the connection instead of pausing it.
            spdlog::debug("connection {}: replay buffer full, stateful reconnect off",
                          connection_->id());
            stateful_ = false;
            connection_->set_stateful(false);
            replay_.reset();
            replay_bytes_ = 0;
        }
    }
    if (!paused_) {
        connection_->send(std::move(bytes));
    }
}

void hub_connection::send_bytes(std::string bytes) {
    connection_->send(make_shared_buffer(std::move(bytes)));
}

void hub_connection::deliver(const routing::message_ptr& message) {
    if (state_ != state::connected) {
        return;
    }
    if (const auto& bytes = message->encoded(protocol_)) {
        send_tracked(bytes);
    } else {
        // Only a message from another instance can lack an encoding (ASP.NET would abort the
        // connection); skipping it keeps the connection and everything else it receives.
        spdlog::warn("connection {}: dropped a backplane message without a {} serialization",
                     connection_->id(),
                     protocol_ == routing::wire_protocol::json ? "json" : "messagepack");
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
    write(protocol::close_message{std::move(error), allow_reconnect}, bytes);
    connection_->close_after(make_shared_buffer(std::move(bytes)));
}

void hub_connection::terminate() {
    connection_->terminate();
}

void hub_connection::close_for_shutdown() {
    close(std::nullopt, true);
}

void hub_connection::on_transport_paused() {
    paused_ = true;
    paused_since_ = clock::now();
}

void hub_connection::on_transport_resumed() {
    paused_ = false;
    // Sequence tells the client where our replay starts; then every unacked message again.
    const bool empty = !replay_ || replay_->empty();
    const auto first = empty ? sent_count_ + 1 : replay_->front().first;
    send_message(protocol::sequence_message{first});
    if (!empty) {
        for (const auto& [id, buffer] : *replay_) {
            connection_->send(buffer);
        }
    }
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
    if (paused_) {
        if (now - paused_since_ >= options.disconnect_timeout) {
            connection_->on_transport_ended();  // the client did not come back in time
        }
        return;
    }
    if (options.close_on_token_expiry) {
        const auto& verified = connection_->request().identity;
        if (verified && verified->expires &&
            std::chrono::system_clock::now() >= *verified->expires) {
            // The client's accessTokenFactory gets a fresh token when it reconnects.
            return close(std::string(closed_with_error) + " The access token expired.", true);
        }
    }
    if (stateful_ && latest_received_id_ > last_acked_id_) {
        // ASP.NET acks about once a second; the heartbeat runs at least that often.
        last_acked_id_ = latest_received_id_;
        send_message(protocol::ack_message{latest_received_id_});
    }
    for (auto it = pending_results_.begin(); it != pending_results_.end();) {
        if (now >= it->second.deadline) {
            auto on_result = std::move(it->second.on_result);
            it = pending_results_.erase(it);
            on_result(make_error("Timed out waiting for the client's result."));
        } else {
            ++it;
        }
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
        connection_->send(ping_bytes(protocol_));
    }
}

void hub_connection::on_transport_closed() {
    state_ = state::closed;
    server_.forget(this, connection_->shard());
    for (auto& [id, pending] : std::exchange(pending_results_, {})) {
        pending.on_result(make_error("Connection '" + connection_->id() + "' disconnected."));
    }
    for (auto& [id, weak_stream] : std::exchange(streams_, {})) {
        if (auto stream = weak_stream.lock()) {
            stream->cancelled = true;
            if (auto handler = std::move(stream->on_cancel)) {
                handler();
            }
        }
    }
    for (auto& [id, upload] : std::exchange(uploads_, {})) {
        upload->end("Connection closed.");
    }
    if (!registered_) {
        return;
    }
    server_.router().remove_connection(hub_, connection_->id(), connection_->shard());
    hub_context context(server_.router(), hub_, connection_->id(), user_id_, *connection_);
    definition_.disconnected(context);
}

}  // namespace switchboard::hub
