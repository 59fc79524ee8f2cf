#include "hub/hub_connection.hpp"

#include "core/log_context.hpp"
#include "hub/hub_server.hpp"
#include "protocol/handshake.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace switchboard::hub {

namespace {

// Every ping is the same bytes: encode once per protocol for the whole process.
const shared_buffer& ping_bytes(const protocol::codec& codec) {
    static const auto pings = [] {
        std::array<shared_buffer, protocol::wire_protocol_count> bytes;
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            std::string ping;
            protocol::codec_of(static_cast<protocol::wire_protocol>(i))
                .write(protocol::ping_message{}, ping);
            bytes[i] = make_shared_buffer(std::move(ping));
        }
        return bytes;
    }();
    return pings[static_cast<std::size_t>(codec.protocol)];
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
      last_ping_sent_(opened_at_),
      replay_(server.options().stateful_reconnect_buffer_size) {
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
    const log_scope scope(connection_->id());
    if (state_ != state::handshaking && state_ != state::subscribing &&
        state_ != state::connected) {
        return;
    }
    last_received_ = clock::now();
    reader_.append(bytes);
    read_records();
}

void hub_connection::read_records() {
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
    std::string_view record;
    // While subscribing, records wait in the reader: on_subscribed reads them.
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
    auto parsed = codec_->parse(record);
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

const hub_options& hub_connection::options() const noexcept {
    return server_.options();
}

hub_context hub_connection::make_context() const {
    return {server_.router(), hub_, connection_->id(), user_id_, *connection_};
}

void hub_connection::report_user_error(metric_hub_error place, std::string_view method,
                                       const error& failure) const noexcept {
    hub::report_user_error({place, definition_.name(), method, connection_->id()}, failure,
                           connection_->metrics());
}

void hub_connection::send_message(const protocol::hub_message& message) {
    std::string bytes;
    codec_->write(message, bytes);
    send_bytes(std::move(bytes));
}

void hub_connection::send_message_tracked(const protocol::hub_message& message) {
    std::string bytes;
    codec_->write(message, bytes);
    send_tracked(make_shared_buffer(std::move(bytes)));
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
    const auto* chosen = protocol::find_codec(request->protocol);
    if (chosen == nullptr) {
        return fail_handshake("The protocol '" + request->protocol + "' is not supported.");
    }
    if (chosen->binary && !connection_->supports_binary()) {
        return fail_handshake("Cannot use the '" + request->protocol +
                              "' protocol on the current transport. The transport does not "
                              "support 'Binary' transfer format.");
    }
    codec_ = chosen;
    // Version 2 adds Ack/Sequence (stateful reconnect); both are understood by the parser.
    if (request->version > 2 || request->version < 0) {
        return fail_handshake("The server does not support version " +
                              std::to_string(request->version) + " of the '" + request->protocol +
                              "' protocol.");
    }
    connection_->set_format(codec_->binary ? transport::transfer_format::binary
                                           : transport::transfer_format::text);
    reader_.start(codec_->framing);
    // Stateful reconnect needs both the negotiate request and a version 2 handshake.
    const bool stateful = connection_->stateful() && request->version >= 2;
    if (stateful) {
        replay_.enable();
    }
    connection_->set_stateful(stateful);
    state_ = state::subscribing;
    auto& router = server_.router();
    router.add_connection(hub_, connection_->id(), user_id_, *this);
    registered_ = true;
    router.when_connection_in_effect(hub_, connection_->id(), [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            self->on_subscribed();
        }
    });
}

void hub_connection::on_subscribed() {
    if (state_ != state::subscribing) {
        return;  // closed meanwhile
    }
    const log_scope scope(connection_->id());
    std::string response;
    protocol::write_handshake_response(std::nullopt, response);
    send_bytes(std::move(response));
    state_ = state::connected;
    if (auto* counters = connection_->metrics()) {
        protocol_ = codec_->binary ? metric_protocol::messagepack : metric_protocol::json;
        counters->hub_connections_of(*protocol_).add(1);
    }
    last_ping_sent_ = clock::now();
    sessions_ = connection_->stateful() ? server_.router().durable_sessions() : nullptr;
    if (sessions_ != nullptr) {
        durable_ = true;
        sessions_->add(hub_, connection_->id(), connection_->token(), user_id_, codec_->protocol,
                       weak_from_this(), connection_->shard());
    }
    run_connected();
    read_records();
}

void hub_connection::adopt(const routing::durable::claimed_session& claimed) {
    const auto& record = claimed.record;
    codec_ = &protocol::codec_of(record.protocol);
    connection_->set_format(codec_->binary ? transport::transfer_format::binary
                                           : transport::transfer_format::text);
    reader_.start(codec_->framing);
    user_id_ = record.user;
    replay_.adopt(record.sequence);
    connection_->set_stateful(true);
    state_ = state::connected;
    if (auto* counters = connection_->metrics()) {
        protocol_ = codec_->binary ? metric_protocol::messagepack : metric_protocol::json;
        counters->hub_connections_of(*protocol_).add(1);
    }
    last_ping_sent_ = clock::now();
    auto& router = server_.router();
    router.add_connection(hub_, connection_->id(), user_id_, *this);
    registered_ = true;
    // The hub saw this connection connect on the instance that first held it.
    hub_connected_ = true;
    sessions_ = router.durable_sessions();
    durable_ = true;
    // The client waits for Sequence before anything else; the log's messages follow it, each
    // under the number the old instance gave it.
    send_message(protocol::sequence_message{record.sequence + 1});
    sessions_->attach(hub_, claimed, weak_from_this(), connection_->shard());
}

void hub_connection::deliver_logged(std::int64_t sequence, const shared_buffer& frame) {
    if (state_ != state::connected || !durable_) {
        return;
    }
    if (auto* counters = connection_->metrics()) {
        counters->deliveries.add();
    }
    const bool kept = replay_.enabled();
    if (!replay_.track(frame)) {
        // The client does not ack: as without durable mode, it cannot resume any more. Its
        // messages still come from the log, so none is skipped or doubled by switching paths.
        spdlog::debug("connection {}: replay buffer full, stateful reconnect off",
                      connection_->id());
        connection_->set_stateful(false);
        sessions_->stop_resuming(connection_->id());
    } else if (kept && replay_.sent() != sequence) {
        spdlog::error("connection {}: logged message {} arrived as {}", connection_->id(), sequence,
                      replay_.sent());
    }
    if (!paused_) {
        connection_->send(frame);
    }
}

void hub_connection::when_ready_for_more(std::function<void(std::size_t budget)> then) {
    // More once the queue is below half its limit, a quarter of the limit at a time: a batch
    // always fits beside what is still queued, and the writer finds the next one waiting.
    const auto limit = connection_->send_queue_limit();
    connection_->when_queued_below(limit / 2,
                                   [then = std::move(then), budget = limit / 4] { then(budget); });
}

void hub_connection::on_caught_up(std::vector<std::string> groups) {
    if (state_ == state::connected) {
        server_.router().restore_groups(hub_, connection_->id(), groups);
    }
}

void hub_connection::on_moved() {
    const log_scope scope(connection_->id());
    spdlog::debug("connection {}: taken over by another instance", connection_->id());
    moved_ = true;
    connection_->terminate();
}

void hub_connection::on_state_lost() {
    // The server's own condition, no exception text: named whatever detailed_errors says, so
    // that the client can tell why its connection starts over (docs/reliability.md).
    close(std::string(closed_with_error) +
              " The server lost this connection's message history; reconnect.",
          true);
}

void hub_connection::run_connected() {
    auto context = make_context();
    const auto failure = call_user([&] { definition_.connected(context); });
    if (!failure) {
        hub_connected_ = true;
        return;
    }
    report_user_error(metric_hub_error::connected, "on_connected", *failure);
    // The client should not reconnect into the same failure.
    close_with_error(failure->type + ": " + failure->message, false);
}

void hub_connection::on_message(protocol::hub_message&& message) {
    if (auto* counters = connection_->metrics()) {
        // The variant's alternatives follow the protocol's numbering; unknown_message is last.
        const auto index = std::min<std::size_t>(
            message.index(), static_cast<std::size_t>(metric_message_kind::other));
        counters->received_of(static_cast<metric_message_kind>(index)).add();
    }
    std::visit(
        [this](auto&& m) {
            using type = std::decay_t<decltype(m)>;
            constexpr bool trackable = std::is_same_v<type, protocol::invocation_message> ||
                                       std::is_same_v<type, protocol::stream_invocation_message> ||
                                       std::is_same_v<type, protocol::stream_item_message> ||
                                       std::is_same_v<type, protocol::completion_message> ||
                                       std::is_same_v<type, protocol::cancel_invocation_message>;
            if constexpr (trackable) {
                if (!replay_.accept()) {
                    return;
                }
            }
            if constexpr (std::is_same_v<type, protocol::invocation_message>) {
                dispatcher_.on_invocation(std::move(m.invocation_id), m.target, m.arguments,
                                          m.stream_ids, false);
            } else if constexpr (std::is_same_v<type, protocol::stream_invocation_message>) {
                dispatcher_.on_invocation(std::move(m.invocation_id), m.target, m.arguments,
                                          m.stream_ids, true);
            } else if constexpr (std::is_same_v<type, protocol::stream_item_message>) {
                dispatcher_.on_stream_item(std::move(m));
            } else if constexpr (std::is_same_v<type, protocol::completion_message>) {
                dispatcher_.on_completion(std::move(m));
            } else if constexpr (std::is_same_v<type, protocol::cancel_invocation_message>) {
                dispatcher_.on_cancel(m.invocation_id);
            } else if constexpr (std::is_same_v<type, protocol::ping_message>) {
                client_pings_ = true;
            } else if constexpr (std::is_same_v<type, protocol::close_message>) {
                // The client is leaving: answer with a plain Close, no reconnect.
                close(std::nullopt, false);
            } else if constexpr (std::is_same_v<type, protocol::ack_message>) {
                replay_.on_ack(m.sequence_id);
                if (durable_) {
                    sessions_->on_ack(connection_->id(), m.sequence_id);
                }
            } else if constexpr (std::is_same_v<type, protocol::sequence_message>) {
                if (replay_.enabled() && !replay_.on_sequence(m.sequence_id)) {
                    close_with_error(
                        "InvalidOperationException: Sequence ID greater than amount of "
                        "messages we've received.",
                        true);
                }
            }
            // Unknown message types are ignored, as ASP.NET does.
        },
        std::move(message));
}

void hub_connection::invoke(const routing::message_ptr& message, std::chrono::milliseconds timeout,
                            routing::result_callback on_result) {
    dispatcher_.invoke(message, timeout, std::move(on_result));
}

void hub_connection::send_tracked(shared_buffer bytes) {
    if (durable_) {
        // Numbered when it comes back from the log, in order with everything else.
        return sessions_->publish_frame(hub_, connection_->id(), codec_->protocol, bytes);
    }
    if (replay_.enabled() && !replay_.track(bytes)) {
        // The client does not ack fast enough to keep a bounded replay: stay connected, but a
        // dropped socket now ends the connection instead of pausing it.
        spdlog::debug("connection {}: replay buffer full, stateful reconnect off",
                      connection_->id());
        connection_->set_stateful(false);
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
    if (durable_) {
        return;  // its messages come from the log, numbered (deliver_logged)
    }
    if (auto* counters = connection_->metrics()) {
        counters->deliveries.add();
    }
    if (const auto& bytes = message->encoded(codec_->protocol)) {
        send_tracked(bytes);
    } else {
        // Only a message from another instance can lack an encoding (ASP.NET would abort the
        // connection); skipping it keeps the connection and everything else it receives.
        spdlog::warn("connection {}: dropped a backplane message without a {} serialization",
                     connection_->id(), codec_->name);
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
    if (state_ == state::handshaking || state_ == state::subscribing) {
        state_ = state::closing;
        return connection_->close_after(nullptr);
    }
    state_ = state::closing;
    std::string bytes;
    codec_->write(protocol::close_message{std::move(error), allow_reconnect}, bytes);
    connection_->close_after(make_shared_buffer(std::move(bytes)));
}

void hub_connection::terminate() {
    connection_->terminate();
}

void hub_connection::close_for_shutdown() {
    if (durable_) {
        // No Close: the client's stateful reconnect takes the same connection to another
        // instance, which resumes it from the log. It does not end for the hub either.
        moved_ = true;
        return connection_->terminate();
    }
    close(std::nullopt, true);
}

void hub_connection::on_transport_paused() {
    const log_scope scope(connection_->id());
    paused_ = true;
    paused_since_ = clock::now();
}

void hub_connection::on_transport_resumed() {
    const log_scope scope(connection_->id());
    paused_ = false;
    // Sequence tells the client where our replay starts; then every unacked message again.
    send_message(protocol::sequence_message{replay_.first_kept()});
    replay_.for_each_kept([this](const shared_buffer& buffer) { connection_->send(buffer); });
}

void hub_connection::on_heartbeat(clock::time_point now) {
    const log_scope scope(connection_->id());
    const auto& options = server_.options();
    if (state_ == state::handshaking || state_ == state::subscribing) {
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
    // ASP.NET acks about once a second; the heartbeat runs at least that often.
    if (const auto ack = replay_.take_ack()) {
        send_message(protocol::ack_message{*ack});
    }
    dispatcher_.expire_results(now);
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
        connection_->send(ping_bytes(*codec_));
    }
}

void hub_connection::on_transport_closed() {
    const log_scope scope(connection_->id());
    state_ = state::closed;
    if (auto* counters = connection_->metrics(); counters != nullptr && protocol_) {
        counters->hub_connections_of(*protocol_).add(-1);
        protocol_.reset();
    }
    server_.forget(this, connection_->shard());
    dispatcher_.on_closed();
    if (durable_) {
        sessions_->remove(connection_->id(), !moved_);
    }
    if (!registered_) {
        return;
    }
    server_.router().remove_connection(hub_, connection_->id(), connection_->shard());
    if (!hub_connected_ || moved_) {
        return;  // on_connected failed (the hub never saw it), or it lives on elsewhere
    }
    auto context = make_context();
    if (auto failure = call_user([&] { definition_.disconnected(context); })) {
        // The connection is gone either way: nothing left to tell the client.
        report_user_error(metric_hub_error::disconnected, "on_disconnected", *failure);
    }
}

}  // namespace switchboard::hub
