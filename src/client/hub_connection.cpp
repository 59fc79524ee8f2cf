#include "client/hub_connection.hpp"

#include "client/transport/negotiate_client.hpp"
#include "client/transport/tls_client.hpp"
#include "core/ascii.hpp"
#include "protocol/codec.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/text_framing.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace switchboard::client {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

std::string_view to_string(connection_state state) noexcept {
    switch (state) {
    case connection_state::disconnected:
        return "Disconnected";
    case connection_state::connecting:
        return "Connecting";
    case connection_state::connected:
        return "Connected";
    case connection_state::reconnecting:
        return "Reconnecting";
    case connection_state::disconnecting:
        return "Disconnecting";
    }
    return "Unknown";
}

reconnect_policy reconnect_delays(std::vector<milliseconds> delays) {
    return
        [delays = std::move(delays)](const retry_context& context) -> std::optional<milliseconds> {
            if (context.previous_retry_count >= delays.size()) {
                return std::nullopt;
            }
            return delays[context.previous_retry_count];
        };
}

reconnect_policy default_reconnect_policy() {
    return reconnect_delays(
        {milliseconds{0}, milliseconds{2'000}, milliseconds{10'000}, milliseconds{30'000}});
}

namespace detail {

namespace {

// The official clients' texts, so logs and tests read the same against either.
constexpr std::string_view not_connected_error =
    "Cannot send data if the connection is not in the 'Connected' State.";
constexpr std::string_view connection_closed_error =
    "Invocation canceled due to the underlying connection being closed.";
constexpr std::string_view server_timeout_error =
    "Server timeout elapsed without receiving a message from the server.";
constexpr std::string_view no_result_error = "Client didn't provide a result.";

// How often stateful reconnect acknowledges what arrived (the official clients' rate).
constexpr milliseconds ack_interval{1'000};

bool trackable(const protocol::hub_message& message) {
    return std::holds_alternative<protocol::invocation_message>(message) ||
           std::holds_alternative<protocol::stream_item_message>(message) ||
           std::holds_alternative<protocol::completion_message>(message) ||
           std::holds_alternative<protocol::stream_invocation_message>(message) ||
           std::holds_alternative<protocol::cancel_invocation_message>(message);
}

}  // namespace

struct upload_state {
    std::weak_ptr<connection_core> core;
    std::string id;
    std::atomic<bool> completed{false};
};

class connection_core : public std::enable_shared_from_this<connection_core>,
                        private transport_listener {
public:
    using value_handler = std::function<void(expected<hub_value>)>;

    connection_core(asio::any_io_executor strand, std::string url, hub_connection_options options)
        : strand_(std::move(strand)),
          url_(std::move(url)),
          options_(std::move(options)),
          codec_(&protocol::codec_of(options_.protocol == hub_protocol::json
                                         ? protocol::wire_protocol::json
                                         : protocol::wire_protocol::messagepack)),
          reader_(options_.max_message_size),
          heartbeat_(strand_),
          retry_timer_(strand_),
          handshake_timer_(strand_),
          ack_timer_(strand_) {}

    [[nodiscard]] const asio::any_io_executor& strand() const noexcept { return strand_; }

    // Snapshots other threads may read.
    std::atomic<connection_state> public_state{connection_state::disconnected};
    std::atomic<transport_type> public_transport{transport_type::none};
    [[nodiscard]] std::optional<std::string> public_connection_id() const {
        const std::lock_guard lock(snapshot_mutex_);
        return connection_id_snapshot_;
    }

    std::string next_id() { return std::to_string(++id_counter_); }

    // --- everything below runs on the strand ---

    void add_handler(std::string target, invocation_handler handler) {
        handlers_[ascii_lower(target)].push_back(std::move(handler));
    }
    void remove_handlers(const std::string& target) { handlers_.erase(ascii_lower(target)); }
    void set_on_closed(std::function<void(std::optional<std::string>)> handler) {
        on_closed_ = std::move(handler);
    }
    void set_on_reconnecting(std::function<void(std::optional<std::string>)> handler) {
        on_reconnecting_ = std::move(handler);
    }
    void set_on_reconnected(std::function<void(std::optional<std::string>)> handler) {
        on_reconnected_ = std::move(handler);
    }
    // The owner is going away: nothing of the user's runs from now on.
    void forget_handlers() {
        handlers_.clear();
        on_closed_ = nullptr;
        on_reconnecting_ = nullptr;
        on_reconnected_ = nullptr;
    }

    void start(value_handler done) {
        if (state_ != connection_state::disconnected) {
            return done(make_error(
                "Cannot start a HubConnection that is not in the 'Disconnected' state."));
        }
        stop_requested_ = false;
        set_state(connection_state::connecting);
        connect([self = shared_from_this(), done = std::move(done)](expected<void> outcome) {
            if (!outcome) {
                self->set_state(connection_state::disconnected);
                return done(outcome.get_error());
            }
            self->set_state(connection_state::connected);
            done(hub_value());
        });
    }

    void stop(value_handler done) {
        switch (state_) {
        case connection_state::disconnected:
            return done(hub_value());
        case connection_state::disconnecting:
            stop_waiters_.push_back(std::move(done));
            return;
        default:
            break;
        }
        stop_requested_ = true;
        const auto previous = state_;
        set_state(connection_state::disconnecting);
        stop_waiters_.push_back(std::move(done));
        if (previous == connection_state::connected && transport_ && !resuming_) {
            // Best effort: the server runs OnDisconnected without waiting for a timeout.
            std::string close;
            codec_->write(protocol::close_message{}, close);
            transport_->send(std::move(close));
        }
        finish(std::nullopt);
    }

    void invoke(std::string target, invocation_arguments arguments, value_handler done,
                bool wants_result) {
        if (state_ != connection_state::connected) {
            return done(make_error(std::string(not_connected_error)));
        }
        protocol::invocation_message message;
        message.target = std::move(target);
        message.arguments = std::move(arguments.values);
        message.stream_ids = std::move(arguments.stream_ids);
        if (wants_result) {
            message.invocation_id = next_id();
        }
        if (auto sent = send_message(message); !sent) {
            return done(sent.get_error());
        }
        if (wants_result) {
            invocations_.emplace(*message.invocation_id, std::move(done));
        } else {
            done(hub_value());
        }
    }

    void stream(std::string id, std::string target, invocation_arguments arguments,
                std::function<expected<void>(hub_value)> on_item,
                std::function<void(expected<void>)> on_complete) {
        if (state_ != connection_state::connected) {
            return on_complete(make_error(std::string(not_connected_error)));
        }
        protocol::stream_invocation_message message;
        message.invocation_id = id;
        message.target = std::move(target);
        message.arguments = std::move(arguments.values);
        message.stream_ids = std::move(arguments.stream_ids);
        if (auto sent = send_message(message); !sent) {
            return on_complete(sent.get_error());
        }
        streams_.emplace(std::move(id), stream_entry{std::move(on_item), std::move(on_complete)});
    }

    void cancel_stream(const std::string& id) {
        if (streams_.erase(id) == 0 || state_ != connection_state::connected) {
            return;
        }
        protocol::cancel_invocation_message message;
        message.invocation_id = id;
        static_cast<void>(send_message(message));
    }

    void upload_item(const std::string& id, hub_value item) {
        protocol::stream_item_message message;
        message.invocation_id = id;
        message.item = std::move(item);
        if (auto sent = send_message(message); !sent) {
            spdlog::debug("client: stream item for {} not sent: {}", id, sent.error_message());
        }
    }

    void upload_complete(const std::string& id, std::optional<std::string> error) {
        auto message = error ? protocol::completion_message::with_error(id, std::move(*error))
                             : protocol::completion_message::empty(id);
        static_cast<void>(send_message(message));
    }

private:
    struct stream_entry {
        std::function<expected<void>(hub_value)> on_item;
        std::function<void(expected<void>)> on_complete;
    };
    // A message kept for stateful reconnect until the server acknowledges it.
    struct unacked_message {
        std::int64_t sequence_id;
        std::string bytes;
    };

    void set_state(connection_state state) {
        state_ = state;
        public_state.store(state);
    }

    void set_connection_id(std::optional<std::string> id) {
        const std::lock_guard lock(snapshot_mutex_);
        connection_id_snapshot_ = std::move(id);
    }

    // --- connecting: negotiate, transport, handshake ---

    void connect(std::function<void(expected<void>)> done) {
        attempt_done_ = std::move(done);
        failed_transports_ = transport_type::none;
        http_ = http_context{};
        http_.executor = strand_;
        http_.headers = options_.headers;
        http_.request_timeout = options_.http_timeout;
        http_.max_message_size = options_.max_message_size;

        auto parsed = boost::urls::parse_uri(url_);
        if (!parsed) {
            return finish_attempt(
                make_error("Invalid hub URL '" + url_ + "': " + parsed.error().message()));
        }
        hub_url_ = *parsed;
        const auto scheme = ascii_lower(hub_url_.scheme());
        if (scheme == "ws" || scheme == "wss") {
            hub_url_.set_scheme(scheme == "ws" ? "http" : "https");
        } else if (scheme != "http" && scheme != "https") {
            return finish_attempt(make_error("Invalid hub URL '" + url_ +
                                             "': the scheme must be http, https, ws or wss"));
        }
        if (hub_url_.scheme() == "https" && !tls_) {
            auto tls = make_client_tls_context(options_.verify_certificate, options_.ca_file);
            if (!tls) {
                return finish_attempt(tls.get_error());
            }
            tls_ = std::move(*tls);
        }
        http_.tls = tls_;
        if (options_.access_token_provider) {
            try {
                auto token = options_.access_token_provider();
                if (!token.empty()) {
                    http_.access_token = std::move(token);
                }
            } catch (const std::exception& e) {
                return finish_attempt(
                    make_error(std::string("access token provider: ") + e.what()));
            } catch (...) {
                return finish_attempt(make_error("access token provider: unknown exception"));
            }
        }
        if (options_.skip_negotiation) {
            if (options_.transports != transport_type::websockets) {
                return finish_attempt(
                    make_error("Negotiation can only be skipped when using the WebSocket transport "
                               "directly."));
            }
            negotiated_ = negotiate_response{};
            return start_transport(transport_type::websockets, hub_url_);
        }
        do_negotiate();
    }

    void do_negotiate() {
        negotiate(http_, hub_url_, options_.stateful_reconnect,
                  [self = shared_from_this(), attempt = attempt_id_](expected<negotiation> result) {
                      if (attempt == self->attempt_id_) {
                          self->on_negotiate(std::move(result));
                      }
                  });
    }

    void on_negotiate(expected<negotiation> result) {
        if (!attempt_done_) {
            return;
        }
        if (!result) {
            return finish_attempt(result.get_error());
        }
        if (result->response.use_stateful_reconnect && !options_.stateful_reconnect) {
            return finish_attempt(
                make_error("Client didn't negotiate Stateful Reconnect but the server did."));
        }
        hub_url_ = std::move(result->hub_url);
        if (result->access_token) {
            http_.access_token = std::move(result->access_token);
        }
        negotiated_ = std::move(result->response);
        const bool binary = codec_->binary;
        for (const auto& offered : negotiated_.transports) {
            if (offered.type == transport_type::none ||
                !has_transport(options_.transports, offered.type) ||
                has_transport(failed_transports_, offered.type) ||
                !(binary ? offered.binary : offered.text)) {
                continue;
            }
            auto url = hub_url_;
            url.params().set("id", negotiated_.connection_token);
            return start_transport(offered.type, std::move(url));
        }
        finish_attempt(make_error(
            failed_transports_ == transport_type::none
                ? "Unable to connect to the server with any of the available transports."
                : "Unable to connect to the server with any of the available transports: " +
                      last_transport_error_));
    }

    void start_transport(transport_type type, boost::urls::url url) {
        transport_ = make_transport(type, http_, *this);
        connect_url_ = url;
        transport_->start(
            std::move(url), codec_->binary ? transfer_format::binary : transfer_format::text,
            [self = shared_from_this(), attempt = attempt_id_, type](expected<void> started) {
                if (attempt == self->attempt_id_) {
                    self->on_transport_started(type, std::move(started));
                }
            });
    }

    void on_transport_started(transport_type type, expected<void> started) {
        if (!attempt_done_) {
            return;
        }
        if (!started) {
            transport_.reset();
            last_transport_error_ = started.error_message();
            failed_transports_ = failed_transports_ | type;
            if (options_.skip_negotiation) {
                return finish_attempt(started.get_error());
            }
            // The connection the server made for this negotiate is spent: the next transport
            // gets a new one, as the official clients do.
            return do_negotiate();
        }
        public_transport.store(type);
        // Every attempt starts from a fresh message stream.
        reader_ = protocol::message_reader(options_.max_message_size);
        handshake_pending_ = true;
        stateful_ = negotiated_.use_stateful_reconnect && type == transport_type::websockets;
        std::string handshake = R"({"protocol":")";
        handshake += codec_->name;
        handshake += stateful_ ? R"(","version":2})" : R"(","version":1})";
        handshake += protocol::record_separator;
        transport_->send(std::move(handshake));
        handshake_timer_.expires_after(options_.handshake_timeout);
        handshake_timer_.async_wait([self = shared_from_this(),
                                     attempt = attempt_id_](const boost::system::error_code& ec) {
            if (!ec && attempt == self->attempt_id_ && self->handshake_pending_) {
                self->finish_attempt(make_error("Server did not answer the handshake in time."));
            }
        });
    }

    void on_handshake(std::string_view record) {
        handshake_pending_ = false;
        handshake_timer_.cancel();
        boost::system::error_code ec;
        const auto response = boost::json::parse(record, ec);
        if (ec || !response.is_object()) {
            return finish_attempt(
                make_error("Error parsing handshake response: not a JSON object"));
        }
        if (const auto* error = response.get_object().if_contains("error")) {
            return finish_attempt(make_error(
                "Server returned handshake error: " +
                (error->is_string() ? std::string(error->get_string()) : std::string("unknown"))));
        }
        reader_.start(codec_->binary ? protocol::message_reader::framing::binary
                                     : protocol::message_reader::framing::text);
        // A new connection: the sequence numbers of stateful reconnect start again.
        unacked_.clear();
        blocked_.clear();
        unacked_bytes_ = 0;
        sent_sequence_ = 0;
        next_receiving_id_ = 1;
        latest_received_id_ = 0;
        acked_received_id_ = 0;
        waiting_for_sequence_ = false;
        set_connection_id(options_.skip_negotiation
                              ? std::nullopt
                              : std::optional<std::string>(negotiated_.connection_id));
        last_received_ = last_sent_ = clock_type::now();
        start_heartbeat();
        finish_attempt({});
    }

    // Ends the attempt in progress; on failure its transport goes too.
    void finish_attempt(expected<void> outcome) {
        auto done = std::exchange(attempt_done_, nullptr);
        ++attempt_id_;
        handshake_pending_ = false;
        handshake_timer_.cancel();
        if (!outcome) {
            drop_transport();
            public_transport.store(transport_type::none);
        }
        if (done) {
            done(std::move(outcome));
        }
    }

    void drop_transport() {
        if (auto transport = std::exchange(transport_, nullptr)) {
            transport->stop();
        }
    }

    // --- the transport's events ---

    void on_transport_data(std::string_view data) override {
        last_received_ = clock_type::now();
        reader_.append(data);
        for (;;) {
            std::string_view record;
            const auto status = reader_.next(record);
            if (status == protocol::message_reader::status::need_more) {
                return;
            }
            if (status != protocol::message_reader::status::record) {
                return fail(status == protocol::message_reader::status::too_large
                                ? "The server sent a message larger than " +
                                      std::to_string(options_.max_message_size) + " bytes."
                                : std::string("The server sent a malformed frame."));
            }
            if (handshake_pending_) {
                on_handshake(record);
                if (!transport_ || attempt_done_) {
                    return;
                }
                continue;
            }
            auto message = codec_->parse(record);
            if (!message) {
                return fail("The server sent a message that does not parse: " +
                            message.error_message());
            }
            if (!on_message(std::move(*message))) {
                return;
            }
        }
    }

    void on_transport_closed(std::optional<std::string> error) override {
        transport_.reset();
        if (attempt_done_) {
            return finish_attempt(make_error(error ? *error : "The server closed the connection."));
        }
        if (stateful_ && error && state_ == connection_state::connected && !stop_requested_) {
            return resume(std::move(*error));
        }
        connection_lost(error ? std::move(error) : std::optional<std::string>());
    }

    // Fails the connection from our side (a bad message, a timeout): the transport goes too.
    void fail(std::string reason) {
        if (attempt_done_) {
            return finish_attempt(make_error(std::move(reason)));
        }
        drop_transport();
        connection_lost(std::move(reason));
    }

    // --- messages ---

    // False when the connection ended while handling it.
    bool on_message(protocol::hub_message message) {
        if (stateful_ && trackable(message)) {
            if (waiting_for_sequence_) {
                return true;
            }
            const auto id = next_receiving_id_++;
            if (id <= latest_received_id_) {
                return true;  // resent after a reconnect, handled already
            }
            latest_received_id_ = id;
            schedule_ack();
        }
        return std::visit([this](auto& m) { return handle(m); }, message);
    }

    bool handle(protocol::invocation_message& message) {
        const auto found = handlers_.find(ascii_lower(message.target));
        if (found == handlers_.end() || found->second.empty()) {
            warn_unhandled(message.target);
            if (message.invocation_id) {
                reply(*message.invocation_id, make_error(std::string(no_result_error)));
            }
            return true;
        }
        // Copies: a handler may add or remove handlers.
        const auto handlers = found->second;
        std::optional<expected<hub_value>> answer;
        for (const auto& handler : handlers) {
            auto outcome = handler(message.arguments);
            switch (outcome.kind) {
            case handler_outcome::status::no_result:
                break;
            case handler_outcome::status::result:
                answer = answer
                             ? expected<hub_value>(make_error("Client provided multiple results."))
                             : expected<hub_value>(std::move(outcome.value));
                break;
            case handler_outcome::status::binding_error:
                spdlog::warn("client: '{}' not delivered: {}", message.target, outcome.message);
                answer = make_error("Failed to bind arguments: " + outcome.message);
                break;
            case handler_outcome::status::failed:
                spdlog::warn("client: the handler of '{}' threw: {}", message.target,
                             outcome.message);
                answer = make_error(outcome.message);
                break;
            }
        }
        if (message.invocation_id && state_ == connection_state::connected) {
            reply(*message.invocation_id,
                  answer ? std::move(*answer) : make_error(std::string(no_result_error)));
        }
        return state_ == connection_state::connected;
    }

    // Once per target, as a hub that sends what a client ignores would otherwise flood the log.
    void warn_unhandled(const std::string& target) {
        // Enough for any real hub's targets; a server inventing names cannot grow the set.
        constexpr std::size_t max_remembered = 64;
        const auto key = ascii_lower(target);
        if (unhandled_.contains(key) || unhandled_.size() >= max_remembered) {
            return;
        }
        unhandled_.insert(key);
        spdlog::warn("client: no handler for '{}' (invocations of it are ignored)", target);
    }

    void reply(const std::string& id, expected<hub_value> answer) {
        auto completion =
            answer ? protocol::completion_message::with_result(id, std::move(*answer))
                   : protocol::completion_message::with_error(id, answer.error_message());
        static_cast<void>(send_message(completion));
    }

    bool handle(protocol::stream_item_message& message) {
        const auto found = streams_.find(message.invocation_id);
        if (found == streams_.end()) {
            return true;
        }
        if (auto delivered = found->second.on_item(std::move(message.item)); !delivered) {
            auto entry = std::move(found->second);
            cancel_stream(message.invocation_id);
            entry.on_complete(delivered.get_error());
        }
        return state_ == connection_state::connected;
    }

    bool handle(protocol::completion_message& message) {
        if (const auto found = invocations_.find(message.invocation_id);
            found != invocations_.end()) {
            auto done = std::move(found->second);
            invocations_.erase(found);
            if (message.error) {
                done(make_error(std::move(*message.error)));
            } else {
                done(message.result ? std::move(*message.result) : hub_value());
            }
        } else if (const auto stream = streams_.find(message.invocation_id);
                   stream != streams_.end()) {
            auto entry = std::move(stream->second);
            streams_.erase(stream);
            entry.on_complete(message.error ? expected<void>(make_error(std::move(*message.error)))
                                            : expected<void>());
        }
        return state_ == connection_state::connected;
    }

    bool handle(protocol::close_message& message) {
        std::optional<std::string> reason;
        if (message.error) {
            reason = "Server returned an error on close: " + *message.error;
        }
        drop_transport();
        if (!message.allow_reconnect) {
            // The server does not want this client back: no automatic reconnect.
            stop_requested_ = true;
        }
        connection_lost(std::move(reason));
        return false;
    }

    bool handle(protocol::ack_message& message) {
        while (!unacked_.empty() && unacked_.front().sequence_id <= message.sequence_id) {
            unacked_bytes_ -= unacked_.front().bytes.size();
            unacked_.pop_front();
        }
        release_blocked();
        return true;
    }

    bool handle(protocol::sequence_message& message) {
        if (message.sequence_id > next_receiving_id_) {
            fail("Sequence ID greater than amount of messages we've received.");
            return false;
        }
        next_receiving_id_ = message.sequence_id;
        waiting_for_sequence_ = false;
        return true;
    }

    bool handle(protocol::ping_message&) { return true; }
    // A client never receives these; ignored as the official clients do.
    bool handle(protocol::stream_invocation_message&) { return true; }
    bool handle(protocol::cancel_invocation_message&) { return true; }
    bool handle(protocol::unknown_message&) { return true; }

    // --- sending ---

    expected<void> send_message(const protocol::hub_message& message) {
        std::string bytes;
        codec_->write(message, bytes);
        const auto queued = transport_ ? transport_->buffered_bytes() : 0;
        if (queued + unacked_bytes_ + blocked_bytes_ + bytes.size() > options_.max_buffered_bytes) {
            return make_error("The send buffer is full (" +
                              std::to_string(options_.max_buffered_bytes) +
                              " bytes): the server is not reading fast enough.");
        }
        if (stateful_ && trackable(message)) {
            if (unacked_bytes_ >= options_.stateful_reconnect_buffer_size || !blocked_.empty()) {
                blocked_bytes_ += bytes.size();
                blocked_.push_back(std::move(bytes));
                return {};
            }
            track_and_send(std::move(bytes));
            return {};
        }
        if (!transport_) {
            return make_error(std::string(not_connected_error));
        }
        last_sent_ = clock_type::now();
        transport_->send(std::move(bytes));
        return {};
    }

    // Numbers a trackable message, keeps it until acknowledged, and sends it unless the
    // WebSocket is being resumed (the resend then carries it).
    void track_and_send(std::string bytes) {
        unacked_bytes_ += bytes.size();
        unacked_.push_back({++sent_sequence_, bytes});
        if (transport_ && !resuming_) {
            last_sent_ = clock_type::now();
            transport_->send(std::move(bytes));
        }
    }

    void release_blocked() {
        while (!blocked_.empty() && unacked_bytes_ < options_.stateful_reconnect_buffer_size) {
            blocked_bytes_ -= blocked_.front().size();
            auto bytes = std::move(blocked_.front());
            blocked_.pop_front();
            track_and_send(std::move(bytes));
        }
    }

    void schedule_ack() {
        if (ack_scheduled_) {
            return;
        }
        ack_scheduled_ = true;
        ack_timer_.expires_after(ack_interval);
        ack_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->ack_scheduled_ = false;
            if (ec || !self->transport_ || self->resuming_ ||
                self->latest_received_id_ <= self->acked_received_id_) {
                return;
            }
            self->acked_received_id_ = self->latest_received_id_;
            std::string bytes;
            self->codec_->write(protocol::ack_message{self->latest_received_id_}, bytes);
            self->transport_->send(std::move(bytes));
        });
    }

    // --- stateful reconnect: the same connection over a new WebSocket ---

    void resume(std::string reason) {
        spdlog::info("client: WebSocket lost ({}); resuming the connection", reason);
        resuming_ = true;
        waiting_for_sequence_ = true;
        stop_heartbeat();
        transport_ = make_transport(transport_type::websockets, http_, *this);
        transport_->start(connect_url_,
                          codec_->binary ? transfer_format::binary : transfer_format::text,
                          [self = shared_from_this(), reason](expected<void> started) {
                              self->on_resumed(std::move(started), reason);
                          });
    }

    void on_resumed(expected<void> started, const std::string& reason) {
        if (!resuming_) {
            return;
        }
        resuming_ = false;
        if (!started || !transport_) {
            transport_.reset();
            stateful_ = false;
            return connection_lost(reason + "; resuming failed: " +
                                   (started ? std::string("closed") : started.error_message()));
        }
        std::string bytes;
        const auto first = unacked_.empty() ? sent_sequence_ + 1 : unacked_.front().sequence_id;
        codec_->write(protocol::sequence_message{first}, bytes);
        for (const auto& message : unacked_) {
            bytes += message.bytes;
        }
        last_received_ = last_sent_ = clock_type::now();
        transport_->send(std::move(bytes));
        start_heartbeat();
    }

    // --- keep-alive and server timeout ---

    void start_heartbeat() {
        if (public_transport.load() == transport_type::long_polling) {
            return;  // polls are the keep-alive; the server sends no pings there
        }
        const auto tick = std::max(milliseconds{10},
                                   std::min({milliseconds{1'000}, options_.keep_alive_interval / 2,
                                             options_.server_timeout / 4}));
        heartbeat_.expires_after(tick);
        heartbeat_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (!ec) {
                self->on_heartbeat();
            }
        });
    }

    void stop_heartbeat() { heartbeat_.cancel(); }

    void on_heartbeat() {
        if (state_ != connection_state::connected || !transport_ || resuming_) {
            return;
        }
        const auto now = clock_type::now();
        if (now - last_received_ >= options_.server_timeout) {
            return fail(std::string(server_timeout_error));
        }
        if (now - last_sent_ >= options_.keep_alive_interval) {
            std::string ping;
            codec_->write(protocol::ping_message{}, ping);
            last_sent_ = now;
            transport_->send(std::move(ping));
        }
        start_heartbeat();
    }

    // --- losing the connection ---

    // Everything waiting on this connection learns it is gone.
    void fail_pending(const std::string& reason) {
        auto invocations = std::move(invocations_);
        invocations_.clear();
        auto streams = std::move(streams_);
        streams_.clear();
        for (auto& [id, done] : invocations) {
            done(make_error(reason));
        }
        for (auto& [id, entry] : streams) {
            entry.on_complete(make_error(reason));
        }
    }

    void connection_lost(std::optional<std::string> reason) {
        stop_heartbeat();
        ack_timer_.cancel();
        resuming_ = false;
        drop_transport();
        public_transport.store(transport_type::none);
        if (state_ != connection_state::connected) {
            return;
        }
        fail_pending(std::string(connection_closed_error));
        if (options_.automatic_reconnect && !stop_requested_) {
            set_state(connection_state::reconnecting);
            set_connection_id(std::nullopt);
            retry_ =
                retry_context{0, milliseconds{0}, reason.value_or("The connection was closed.")};
            lost_at_ = clock_type::now();
            if (on_reconnecting_) {
                on_reconnecting_(reason);
            }
            return schedule_retry();
        }
        set_state(connection_state::disconnecting);
        finish(std::move(reason));
    }

    void schedule_retry() {
        if (state_ != connection_state::reconnecting) {
            return;
        }
        retry_.elapsed = std::chrono::duration_cast<milliseconds>(clock_type::now() - lost_at_);
        std::optional<milliseconds> delay;
        try {
            delay = (*options_.automatic_reconnect)(retry_);
        } catch (const std::exception& e) {
            spdlog::warn("client: the reconnect policy threw: {}", e.what());
        }
        if (!delay) {
            set_state(connection_state::disconnecting);
            return finish(retry_.retry_reason);
        }
        retry_timer_.expires_after(*delay);
        retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->state_ != connection_state::reconnecting) {
                return;
            }
            self->connect([self](expected<void> outcome) {
                if (self->state_ != connection_state::reconnecting) {
                    return;
                }
                if (!outcome) {
                    ++self->retry_.previous_retry_count;
                    self->retry_.retry_reason = outcome.error_message();
                    return self->schedule_retry();
                }
                self->set_state(connection_state::connected);
                if (self->on_reconnected_) {
                    self->on_reconnected_(self->public_connection_id());
                }
            });
        });
    }

    // The connection is over for good: `reason` empty when stop() ended it.
    void finish(std::optional<std::string> reason) {
        if (attempt_done_) {
            finish_attempt(make_error("The connection was stopped during negotiation."));
        }
        retry_timer_.cancel();
        stop_heartbeat();
        ack_timer_.cancel();
        resuming_ = false;
        drop_transport();
        public_transport.store(transport_type::none);
        set_connection_id(std::nullopt);
        fail_pending(reason ? *reason : std::string(connection_closed_error));
        unacked_.clear();
        blocked_.clear();
        unacked_bytes_ = blocked_bytes_ = 0;
        stateful_ = false;
        set_state(connection_state::disconnected);
        if (on_closed_) {
            on_closed_(reason);
        }
        for (auto& waiter : std::exchange(stop_waiters_, {})) {
            waiter(hub_value());
        }
    }

    asio::any_io_executor strand_;
    std::string url_;
    hub_connection_options options_;
    const protocol::codec* codec_;
    protocol::message_reader reader_;
    std::shared_ptr<asio::ssl::context> tls_;

    connection_state state_ = connection_state::disconnected;
    bool stop_requested_ = false;
    std::vector<value_handler> stop_waiters_;

    std::unordered_map<std::string, std::vector<invocation_handler>> handlers_;
    std::unordered_set<std::string> unhandled_;  // targets warned about
    std::function<void(std::optional<std::string>)> on_closed_;
    std::function<void(std::optional<std::string>)> on_reconnecting_;
    std::function<void(std::optional<std::string>)> on_reconnected_;

    std::unordered_map<std::string, value_handler> invocations_;
    std::unordered_map<std::string, stream_entry> streams_;
    std::atomic<std::uint64_t> id_counter_{0};

    // The attempt in progress (start or reconnect): results of older attempts are ignored.
    std::function<void(expected<void>)> attempt_done_;
    std::uint64_t attempt_id_ = 0;
    http_context http_;
    boost::urls::url hub_url_;
    boost::urls::url connect_url_;
    negotiate_response negotiated_;
    transport_type failed_transports_ = transport_type::none;
    std::string last_transport_error_;
    std::shared_ptr<transport> transport_;
    bool handshake_pending_ = false;

    clock_type::time_point last_received_{};
    clock_type::time_point last_sent_{};
    asio::steady_timer heartbeat_;
    asio::steady_timer retry_timer_;
    asio::steady_timer handshake_timer_;
    retry_context retry_;
    clock_type::time_point lost_at_{};

    // Stateful reconnect (both directions numbered from 1, as in ASP.NET's MessageBuffer).
    bool stateful_ = false;
    bool resuming_ = false;
    bool waiting_for_sequence_ = false;
    std::deque<unacked_message> unacked_;
    std::size_t unacked_bytes_ = 0;
    std::deque<std::string> blocked_;  // waiting for acks; bounded by max_buffered_bytes
    std::size_t blocked_bytes_ = 0;
    std::int64_t sent_sequence_ = 0;
    std::int64_t next_receiving_id_ = 1;
    std::int64_t latest_received_id_ = 0;
    std::int64_t acked_received_id_ = 0;
    asio::steady_timer ack_timer_;
    bool ack_scheduled_ = false;

    mutable std::mutex snapshot_mutex_;
    std::optional<std::string> connection_id_snapshot_;
};

}  // namespace detail

// --- upload_stream, stream_subscription ---

void upload_stream::write_value(hub_value item) {
    if (state_->completed.load()) {
        return;
    }
    if (auto core = state_->core.lock()) {
        asio::post(core->strand(), [core, id = state_->id, item = std::move(item)]() mutable {
            core->upload_item(id, std::move(item));
        });
    }
}

void upload_stream::complete(std::optional<std::string> error) {
    if (state_->completed.exchange(true)) {
        return;
    }
    if (auto core = state_->core.lock()) {
        asio::post(core->strand(), [core, id = state_->id, error = std::move(error)]() mutable {
            core->upload_complete(id, std::move(error));
        });
    }
}

const std::string& upload_stream::id() const noexcept {
    return state_->id;
}

void stream_subscription::cancel() {
    if (auto core = core_.lock()) {
        asio::post(core->strand(), [core, id = id_] { core->cancel_stream(id); });
    }
}

// --- hub_connection ---

struct hub_connection::own_thread {
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{context.get_executor()};
    std::thread thread{[this] { context.run(); }};
};

hub_connection::hub_connection(std::string url, hub_connection_options options)
    : thread_(std::make_unique<own_thread>()),
      core_(std::make_shared<detail::connection_core>(
          asio::make_strand(thread_->context.get_executor()), std::move(url), std::move(options))) {
}

hub_connection::hub_connection(asio::any_io_executor executor, std::string url,
                               hub_connection_options options)
    : core_(std::make_shared<detail::connection_core>(asio::make_strand(std::move(executor)),
                                                      std::move(url), std::move(options))) {}

hub_connection::~hub_connection() {
    auto stopped = std::make_shared<std::promise<void>>();
    auto done = stopped->get_future();
    asio::post(core_->strand(), [core = core_, stopped] {
        core->forget_handlers();
        core->stop([stopped](const expected<hub_value>&) { stopped->set_value(); });
    });
    if (!thread_) {
        return;  // the caller's executor finishes the stop; the core lives until then
    }
    if (thread_->thread.get_id() == std::this_thread::get_id()) {
        // Destroyed from one of its own handlers: the thread cannot wait for itself.
        thread_->work.reset();
        thread_->thread.detach();
        return;
    }
    done.wait();
    thread_->work.reset();
    // Closing handshakes still in flight are abandoned: the process may be exiting.
    thread_->context.stop();
    thread_->thread.join();
}

void hub_connection::off(std::string target) {
    asio::post(core_->strand(),
               [core = core_, target = std::move(target)] { core->remove_handlers(target); });
}

void hub_connection::add_handler(std::string target, detail::invocation_handler handler) {
    asio::post(core_->strand(),
               [core = core_, target = std::move(target), handler = std::move(handler)]() mutable {
                   core->add_handler(std::move(target), std::move(handler));
               });
}

void hub_connection::on_closed(std::function<void(std::optional<std::string>)> handler) {
    asio::post(core_->strand(), [core = core_, handler = std::move(handler)]() mutable {
        core->set_on_closed(std::move(handler));
    });
}

void hub_connection::on_reconnecting(std::function<void(std::optional<std::string>)> handler) {
    asio::post(core_->strand(), [core = core_, handler = std::move(handler)]() mutable {
        core->set_on_reconnecting(std::move(handler));
    });
}

void hub_connection::on_reconnected(std::function<void(std::optional<std::string>)> handler) {
    asio::post(core_->strand(), [core = core_, handler = std::move(handler)]() mutable {
        core->set_on_reconnected(std::move(handler));
    });
}

void hub_connection::do_start(value_handler done) {
    asio::post(core_->strand(),
               [core = core_, done = std::move(done)]() mutable { core->start(std::move(done)); });
}

void hub_connection::do_stop(value_handler done) {
    asio::post(core_->strand(),
               [core = core_, done = std::move(done)]() mutable { core->stop(std::move(done)); });
}

void hub_connection::do_invoke(std::string target, invocation_arguments arguments,
                               value_handler done, bool wants_result) {
    asio::post(core_->strand(), [core = core_, target = std::move(target),
                                 arguments = std::move(arguments), done = std::move(done),
                                 wants_result]() mutable {
        core->invoke(std::move(target), std::move(arguments), std::move(done), wants_result);
    });
}

stream_subscription hub_connection::do_stream(std::string target, invocation_arguments arguments,
                                              std::function<expected<void>(hub_value)> on_item,
                                              std::function<void(expected<void>)> on_complete) {
    auto id = core_->next_id();
    asio::post(core_->strand(),
               [core = core_, id, target = std::move(target), arguments = std::move(arguments),
                on_item = std::move(on_item), on_complete = std::move(on_complete)]() mutable {
                   core->stream(std::move(id), std::move(target), std::move(arguments),
                                std::move(on_item), std::move(on_complete));
               });
    return stream_subscription(core_, std::move(id));
}

upload_stream hub_connection::make_upload_stream() {
    auto state = std::make_shared<detail::upload_state>();
    state->core = core_;
    state->id = core_->next_id();
    return upload_stream(std::move(state));
}

std::future<void> hub_connection::start() {
    auto promise = std::make_shared<std::promise<void>>();
    auto future = promise->get_future();
    async_start(
        [promise](expected<void> outcome) { detail::settle(*promise, std::move(outcome)); });
    return future;
}

std::future<void> hub_connection::stop() {
    auto promise = std::make_shared<std::promise<void>>();
    auto future = promise->get_future();
    async_stop([promise](expected<void> outcome) { detail::settle(*promise, std::move(outcome)); });
    return future;
}

connection_state hub_connection::state() const noexcept {
    return core_->public_state.load();
}

std::optional<std::string> hub_connection::connection_id() const {
    return core_->public_connection_id();
}

transport_type hub_connection::transport() const noexcept {
    return core_->public_transport.load();
}

asio::any_io_executor hub_connection::get_executor() const noexcept {
    return core_->strand();
}

}  // namespace switchboard::client
