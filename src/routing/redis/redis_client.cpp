#include "routing/redis/redis_client.hpp"

#include "routing/link/reconnecting_link.hpp"
#include "routing/link/tls.hpp"
#include "routing/redis/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

namespace switchboard::routing::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using resp::encode_array;

namespace {

struct reader_deleter {
    void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};
struct reply_deleter {
    void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};

std::string_view reply_string(const redisReply* reply) {
    return {reply->str, reply->len};
}

// Startup only: every failure throws with the file that caused it.
std::shared_ptr<asio::ssl::context> make_tls_context(const connection_options& connection) {
    if (!connection.tls) {
        return nullptr;
    }
    if (connection.tls_insecure_skip_verify) {
        spdlog::warn(
            "redis: TLS certificate verification is OFF (sslInsecureSkipVerify): the connection "
            "to {} is encrypted but not authenticated",
            connection.host);
    }
    return std::make_shared<asio::ssl::context>(link::make_client_tls_context(
        {connection.tls_ca_file, connection.tls_cert_file, connection.tls_key_file,
         connection.tls_insecure_skip_verify},
        "Redis"));
}

link::link_options link_settings(const client_options& options,
                                 const std::shared_ptr<asio::ssl::context>& tls, bool publisher) {
    const auto& connection = options.connection;
    link::link_options settings;
    settings.host = connection.host;
    settings.port = connection.port;
    settings.log_name = "redis";
    settings.role = publisher ? "publish" : "subscribe";
    settings.connect_timeout = options.connect_timeout;
    settings.initial_backoff = options.initial_backoff;
    settings.max_backoff = options.max_backoff;
    // The publish connection carries the PINGs: a subscribed connection only hears pushes.
    settings.health_check_interval =
        publisher ? options.health_check_interval : std::chrono::milliseconds{0};
    settings.tls = tls;
    settings.tls_server_name = connection.tls_host.empty() ? connection.host : connection.tls_host;
    settings.tls_verify = !connection.tls_insecure_skip_verify;
    return settings;
}

}  // namespace

// The RESP side of the two connections; the connections themselves (reconnect, TLS, writes)
// are link::reconnecting_link.
class redis_client::impl final : public std::enable_shared_from_this<redis_client::impl>,
                                 private link::link_owner {
public:
    enum class role { publisher, subscriber };

    // One connection's protocol state; reset by each new connection.
    struct connection {
        connection(asio::io_context& context, link::link_options settings, link_owner& owner,
                   role r)
            : kind(r), link(context, std::move(settings), owner) {}
        role kind;
        link::reconnecting_link link;
        std::unique_ptr<redisReader, reader_deleter> reader;
        int pending_handshake_replies = 0;  // AUTH/SELECT first, then channel confirmations
        int pending_setup_replies = 0;      // AUTH/SELECT only
        std::set<std::string, std::less<>> handshake_channels;
        // command() replies (publish connection): replies after the handshake are numbered
        // in order; a handler waits for the number of its command. Publishes pay a counter.
        // Unsent ones hold their command's position in the link's queue.
        std::deque<std::pair<std::size_t, reply_handler>> unsent_handlers;
        std::deque<std::pair<std::uint64_t, reply_handler>> awaiting;
        // when_subscribed() callbacks, one per PING on the subscribe connection, in order.
        std::deque<std::function<void()>> barriers;
        std::uint64_t commands_sent = 0;
        std::uint64_t replies_received = 0;
        // Sharded mode (subscribe connection): channels with an SUNSUBSCRIBE of ours in
        // flight, so an sunsubscribe the server sends on its own (slot moved) can be told
        // apart.
        std::set<std::string, std::less<>> unsubscribing;
    };

    impl(asio::io_context& context, client_options options)
        : options_(check(std::move(options))),
          tls_context_(make_tls_context(options_.connection)),
          resume_timer_(context),
          publisher_(context, link_settings(options_, tls_context_, true), *this, role::publisher),
          subscriber_(context, link_settings(options_, tls_context_, false), *this,
                      role::subscriber) {
        if (options_.connection.sharded) {
            publish_head_ = "*3\r\n$8\r\nSPUBLISH\r\n";
            subscribe_command_ = "SSUBSCRIBE";
            unsubscribe_command_ = "SUNSUBSCRIBE";
        }
    }

    void start() {
        stopped_ = false;
        publisher_.link.start(weak_from_this());
        subscriber_.link.start(weak_from_this());
    }

    void stop() {
        stopped_ = true;
        resuming_ = false;
        resume_timer_.cancel();
        for (auto* l : {&publisher_, &subscriber_}) {
            l->link.stop();
            reset(*l);
            l->unsent_handlers.clear();
            l->awaiting.clear();  // dropped, not called: no handler runs after stop()
            l->barriers.clear();
        }
    }

    bool publish(std::string_view channel, shared_buffer payload) {
        if (!payload) {
            payload = make_shared_buffer({});
        }
        // The encoding's size without encoding it: "*3 $7 PUBLISH" head, two bulk headers of
        // at most 20 digits, their CRLFs; an upper bound by a few bytes.
        const auto size = publish_head_.size() + channel.size() + payload->size() + 2 * 25;
        auto& queue = publisher_.link.queue();
        if (!queue.fits(size, options_.max_queued_bytes)) {
            ++statistics_.dropped;
            statistics_.dropped_bytes += size;
            return false;
        }
        auto& text = queue.text();
        text.append(publish_head_);
        resp::append_bulk(text, channel);
        resp::append_bulk_header(text, payload->size());
        queue.append_body(payload);
        text.append("\r\n");
        queue.end_command(true);
        publisher_.link.flush();
        return true;
    }

    bool command(const std::vector<std::string>& arguments, reply_handler handler) {
        std::vector<std::string_view> views(arguments.begin(), arguments.end());
        const auto encoded = encode_array(views);
        auto& queue = publisher_.link.queue();
        if (!queue.fits(encoded.size(), options_.max_queued_bytes)) {
            return false;
        }
        publisher_.unsent_handlers.emplace_back(queue.commands(), std::move(handler));
        queue.append(encoded);
        queue.end_command();
        publisher_.link.flush();
        return true;
    }

    void subscribe(const std::string& channel) {
        if (++subscriptions_[channel] == 1 && subscriber_.link.ready()) {
            send_subscription(subscriber_, subscribe_command_, channel);
        }
    }

    void unsubscribe(const std::string& channel) {
        auto it = subscriptions_.find(channel);
        if (it == subscriptions_.end()) {
            return;
        }
        if (--it->second == 0) {
            subscriptions_.erase(it);
            if (subscriber_.link.ready()) {
                send_subscription(subscriber_, unsubscribe_command_, channel);
            }
        }
    }

    void when_subscribed(std::function<void()> then) {
        if (!subscriber_.link.ready()) {
            return then();
        }
        subscriber_.barriers.push_back(std::move(then));
        subscriber_.link.queue().append(encode_array({"PING"}));
        subscriber_.link.queue().end_command();
        subscriber_.link.flush();
    }

    [[nodiscard]] bool connected() const noexcept {
        return publisher_.link.ready() && subscriber_.link.ready();
    }

    [[nodiscard]] client_statistics statistics() const noexcept {
        auto out = statistics_;
        out.reconnects = publisher_.link.reconnects() + subscriber_.link.reconnects();
        return out;
    }

    // The publisher's queue only; bytes being written are the socket's.
    [[nodiscard]] std::size_t queued_bytes() const noexcept {
        return publisher_.link.queue().size();
    }

    client_options options_;
    // Classic pub/sub, or sharded (Redis 7, SPUBLISH and friends) for cluster_client.
    std::string_view publish_head_ = "*3\r\n$7\r\nPUBLISH\r\n";
    std::string_view subscribe_command_ = "SUBSCRIBE";
    std::string_view unsubscribe_command_ = "UNSUBSCRIBE";
    topology_handler topology_handler_;
    message_handler message_handler_;
    state_handler state_handler_;
    client_statistics statistics_;
    bool stopped_ = true;

private:
    static client_options check(client_options options) {
        if (options.connection.host.empty()) {
            throw std::invalid_argument("Redis host is empty");
        }
        return options;
    }

    static const char* name(const connection& l) {
        return l.kind == role::publisher ? "publish" : "subscribe";
    }

    connection& of(const link::reconnecting_link& l) noexcept {
        return &l == &publisher_.link ? publisher_ : subscriber_;
    }

    void fail(connection& l, error_code ec, std::string_view what) { l.link.fail(ec, what); }

    void reset(connection& l) {
        l.pending_handshake_replies = 0;
        l.pending_setup_replies = 0;
        l.unsubscribing.clear();
    }

    // link_owner: the transport is up; AUTH, SELECT and the resubscription go out in one
    // write.
    void on_transport_up(link::reconnecting_link& transport) override {
        auto& l = of(transport);
        l.reader.reset(redisReaderCreate());

        // Everything the connection needs before it is usable goes out in one pipelined
        // write; Redis answers in order, so the first replies belong to the handshake.
        const auto& connection = options_.connection;
        std::string handshake;
        l.pending_handshake_replies = 0;
        l.commands_sent = l.replies_received = 0;
        if (!connection.user.empty()) {
            handshake += encode_array({"AUTH", connection.user, connection.password});
            ++l.pending_handshake_replies;
        } else if (!connection.password.empty()) {
            handshake += encode_array({"AUTH", connection.password});
            ++l.pending_handshake_replies;
        }
        l.handshake_channels.clear();
        if (l.kind == role::publisher) {
            // Pub/sub ignores databases; SELECT matters only for future commands on this
            // connection. A cluster has database 0 only and refuses SELECT.
            if (connection.database != 0 && !connection.sharded) {
                const auto database = std::to_string(connection.database);
                handshake += encode_array({"SELECT", database});
                ++l.pending_handshake_replies;
            }
            // Ready means Redis answered, not merely that the port accepted a connection (a
            // paused or hung server accepts and then says nothing).
            handshake += encode_array({"PING"});
            ++l.pending_handshake_replies;
        }
        l.pending_setup_replies = l.pending_handshake_replies;
        if (l.kind == role::subscriber && !subscriptions_.empty()) {
            // Resubscribe every channel; the connection is ready only once each is confirmed,
            // so a publish released by connected() cannot overtake the subscription.
            if (connection.sharded) {
                // One SSUBSCRIBE per channel: a cluster refuses one naming several slots.
                for (const auto& [channel, count] : subscriptions_) {
                    handshake += encode_array({subscribe_command_, channel});
                    l.handshake_channels.insert(channel);
                }
            } else {
                std::vector<std::string_view> arguments{subscribe_command_};
                for (const auto& [channel, count] : subscriptions_) {
                    arguments.push_back(channel);
                    l.handshake_channels.insert(channel);
                }
                handshake += encode_array(arguments);
            }
            l.pending_handshake_replies += static_cast<int>(subscriptions_.size());
        }

        if (l.pending_handshake_replies == 0) {
            return on_ready(l);
        }
        l.link.send_handshake(std::move(handshake));
    }

    void on_ready(connection& l) {
        l.link.set_ready();
        if (l.kind == role::subscriber) {
            // subscribe()/unsubscribe() calls made during the handshake only changed the map.
            for (const auto& [channel, count] : subscriptions_) {
                if (!l.handshake_channels.contains(channel)) {
                    send_subscription(l, subscribe_command_, channel);
                }
            }
            for (const auto& channel : l.handshake_channels) {
                if (!subscriptions_.contains(channel)) {
                    send_subscription(l, unsubscribe_command_, channel);
                }
            }
            l.handshake_channels.clear();
        }
        if (connected()) {
            if (was_ever_connected_ && options_.resume_delay.count() > 0) {
                hold_publishes();
            }
            was_ever_connected_ = true;
            publisher_.link.flush();
            notify_state(true);
        }
    }

    // link_owner: publishes wait until the subscriptions are back too (see the class comment),
    // and after a reconnect for the other instances' subscriptions (resume_delay).
    [[nodiscard]] bool may_write(const link::reconnecting_link& transport) const override {
        return &transport != &publisher_.link || (connected() && !resuming_);
    }

    // link_owner: the queue goes out; command() handlers now wait for their replies.
    void on_write(link::reconnecting_link& transport, const link::outbox& queued) override {
        auto& l = of(transport);
        for (auto& [position, handler] : l.unsent_handlers) {
            l.awaiting.emplace_back(l.commands_sent + position, std::move(handler));
        }
        l.unsent_handlers.clear();
        l.commands_sent += queued.commands();
        statistics_.published += queued.publishes();
    }

    // link_owner: a PING on the publish connection, in order with the publications.
    void on_health_probe(link::reconnecting_link& transport) override {
        command({"PING"}, [weak = weak_from_this(), &transport](const redisReply* reply) {
            if (auto me = weak.lock(); me && reply != nullptr) {
                transport.health_answered();
            }
        });
    }

    void hold_publishes() {
        resuming_ = true;
        // The retries are jittered, so the other instances may come back up to the spread of
        // the delays later than this one: their subscriptions are waited for that long too.
        const auto spread =
            std::max(publisher_.link.retry_spread(), subscriber_.link.retry_spread());
        resume_timer_.expires_after(options_.resume_delay + spread);
        resume_timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->stopped_) {
                return;  // re-armed by a newer reconnect, or stopped
            }
            self->resuming_ = false;
            self->publisher_.link.flush();
        });
    }

    void send_subscription(connection& l, std::string_view command, std::string_view channel) {
        if (options_.connection.sharded) {
            if (command == unsubscribe_command_) {
                l.unsubscribing.emplace(channel);
            } else if (auto it = l.unsubscribing.find(channel); it != l.unsubscribing.end()) {
                // Its confirmation may now pass for a server's own sunsubscribe; that costs
                // one needless resubscription, where a stale entry could hide a real one.
                l.unsubscribing.erase(it);
            }
        }
        l.link.queue().append(resp::encode_array({command, channel}));
        l.link.queue().end_command();
        l.link.flush();
    }

    // link_owner: replies are framed here, and the two a busy connection is made of are taken
    // in place: a PUBLISH's integer and a pushed message, without a hiredis object each (five
    // allocations and two more copies of the payload per message). Any other reply goes
    // through the reader whole, so the reader never holds part of one.
    std::size_t on_data(link::reconnecting_link& transport, std::string_view data) override {
        auto& l = of(transport);
        const auto generation = transport.generation();
        std::size_t used = 0;
        while (used < data.size()) {
            const auto rest = data.substr(used);
            const auto extent = resp::reply_size(rest);
            if (!extent) {
                spdlog::warn("redis: protocol error on the {} connection: not RESP2 (byte {:#04x})",
                             name(l), static_cast<unsigned char>(rest.front()));
                fail(l, asio::error::invalid_argument, "protocol");
                return used;
            }
            if (*extent == 0) {
                break;  // the rest of it comes with the next read
            }
            const auto reply = rest.substr(0, *extent);
            used += reply.size();
            if (!take_in_place(l, reply) && !take_with_reader(l, reply)) {
                return used;  // the link failed
            }
            // A handler may have stopped the client or the reply failed the link.
            if (generation != transport.generation()) {
                return used;
            }
        }
        return used;
    }

    // The replies that need no reader: false for any other.
    bool take_in_place(connection& l, std::string_view reply) {
        if (l.kind == role::subscriber) {
            const auto message = resp::message_reply(reply);
            if (message) {
                deliver(message->channel, message->payload);
            }
            return message.has_value();
        }
        // A PUBLISH's receiver count, unless the handshake or a command() waits for it.
        if (l.pending_handshake_replies > 0 ||
            (!l.awaiting.empty() && l.awaiting.front().first == l.replies_received) ||
            !resp::integer_reply(reply)) {
            return false;
        }
        ++l.replies_received;
        ++statistics_.acknowledged;
        return true;
    }

    // One whole reply through hiredis; false when the link failed.
    bool take_with_reader(connection& l, std::string_view bytes) {
        if (redisReaderFeed(l.reader.get(), bytes.data(), bytes.size()) != REDIS_OK) {
            fail(l, asio::error::no_memory, "reader");
            return false;
        }
        void* raw = nullptr;
        if (redisReaderGetReply(l.reader.get(), &raw) != REDIS_OK || raw == nullptr) {
            spdlog::warn(
                "redis: protocol error on the {} connection: {}", name(l),
                raw == nullptr && l.reader->err == 0 ? "incomplete reply" : l.reader->errstr);
            fail(l, asio::error::invalid_argument, "protocol");
            return false;
        }
        std::unique_ptr<void, reply_deleter> reply(raw);
        on_reply(l, *static_cast<const redisReply*>(raw));
        return true;
    }

    void on_reply(connection& l, const redisReply& reply) {
        // Messages first: while several channels are being resubscribed, messages of the
        // channels already confirmed arrive between the confirmations and must neither be
        // lost nor counted as handshake replies.
        if (l.kind == role::subscriber && is_message(reply)) {
            return deliver(reply_string(reply.element[1]), reply_string(reply.element[2]));
        }
        if (l.pending_handshake_replies > 0) {
            const bool setup = l.pending_setup_replies > 0;
            if (setup) {
                --l.pending_setup_replies;
            }
            if (reply.type == REDIS_REPLY_ERROR) {
                if (setup || !options_.connection.sharded) {
                    spdlog::error("redis: {} connection handshake refused: {}", name(l),
                                  reply_string(&reply));
                    return fail(l, asio::error::access_denied, "handshake");
                }
                // A cluster node that no longer owns a channel's slot answers -MOVED: the
                // cluster client moves the channel; this node's other channels are fine.
                on_error_reply(l, reply);
            }
            if (--l.pending_handshake_replies == 0) {
                on_ready(l);
            }
            return;
        }
        if (l.kind == role::publisher) {
            const auto number = l.replies_received++;
            if (!l.awaiting.empty() && l.awaiting.front().first == number) {
                auto handler = std::move(l.awaiting.front().second);
                l.awaiting.pop_front();
                return handler(&reply);
            }
            if (reply.type == REDIS_REPLY_INTEGER) {
                ++statistics_.acknowledged;  // PUBLISH: the number of receivers
                return;
            }
        }
        if (l.kind == role::subscriber && is_pong(reply) && !l.barriers.empty()) {
            auto then = std::move(l.barriers.front());
            l.barriers.pop_front();
            return then();
        }
        if (reply.type == REDIS_REPLY_ERROR) {
            return on_error_reply(l, reply);
        }
        if (l.kind == role::subscriber && options_.connection.sharded) {
            on_sunsubscribe(l, reply);
        }
        // Anything else: PUBLISH's receiver count, (un)subscribe confirmations.
    }

    void on_error_reply(connection& l, const redisReply& reply) {
        ++statistics_.error_replies;
        const auto text = reply_string(&reply);
        if (options_.connection.sharded &&
            (text.starts_with("MOVED ") || text.starts_with("ASK ") ||
             text.starts_with("CLUSTERDOWN"))) {
            // Expected while a cluster reshards: the command is lost (at most once), the
            // cluster client rediscovers the slots.
            spdlog::debug("redis: {} connection to {}:{}: {}", name(l), options_.connection.host,
                          options_.connection.port, text);
            return notify_topology(text);
        }
        spdlog::warn("redis: error reply on the {} connection: {}", name(l), text);
    }

    // ["sunsubscribe", channel, count]: the confirmation of ours, or the server dropping a
    // channel whose slot moved to another node (Redis 7 tells sharded subscribers so).
    void on_sunsubscribe(connection& l, const redisReply& reply) {
        if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
            reply.element[0]->type != REDIS_REPLY_STRING ||
            reply.element[1]->type != REDIS_REPLY_STRING ||
            reply_string(reply.element[0]) != "sunsubscribe") {
            return;
        }
        const auto channel = reply_string(reply.element[1]);
        if (auto it = l.unsubscribing.find(channel); it != l.unsubscribing.end()) {
            l.unsubscribing.erase(it);
            return;
        }
        if (!subscriptions_.contains(channel)) {
            return;
        }
        // Still wanted: ask again. If the slot really moved the node answers -MOVED; either
        // way the cluster client rediscovers and moves the channel to its new owner.
        send_subscription(l, subscribe_command_, channel);
        notify_topology("sunsubscribe from the server");
    }

    void notify_topology(std::string_view reason) {
        if (topology_handler_) {
            topology_handler_(reason);
        }
    }

    // ["pong", ""]: PING's answer on a subscribed connection (RESP2).
    // ["pong", ""] while the connection is subscribed to something; a plain +PONG while it is
    // not (a publisher with no subscriptions yet), which would otherwise leave its barrier
    // waiting forever.
    static bool is_pong(const redisReply& reply) {
        if (reply.type == REDIS_REPLY_STATUS) {
            return reply_string(&reply) == "PONG";
        }
        return reply.type == REDIS_REPLY_ARRAY && reply.elements == 2 &&
               reply.element[0]->type == REDIS_REPLY_STRING &&
               reply_string(reply.element[0]) == "pong";
    }

    // ["message", channel, payload], the RESP2 push of a subscribed connection, or
    // ["smessage", channel, payload] for sharded channels.
    static bool is_message(const redisReply& reply) {
        if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
            reply.element[0]->type != REDIS_REPLY_STRING ||
            reply.element[1]->type != REDIS_REPLY_STRING ||
            reply.element[2]->type != REDIS_REPLY_STRING) {
            return false;
        }
        const auto kind = reply_string(reply.element[0]);
        return kind == "message" || kind == "smessage";
    }

    void deliver(std::string_view channel, std::string_view payload) {
        // Messages still in flight after our UNSUBSCRIBE are not for us any more.
        if (!subscriptions_.contains(channel) || !message_handler_) {
            return;
        }
        ++statistics_.received;
        // The one copy: out of the read buffer into the bytes every recipient shares.
        message_handler_(channel, make_shared_buffer(std::string(payload)));
    }

    // link_owner: the connection is gone.
    void on_down(link::reconnecting_link& transport, bool was_ready) override {
        auto& l = of(transport);
        const auto& other = &l == &publisher_ ? subscriber_ : publisher_;
        const bool was_connected = was_ready && other.link.ready();
        reset(l);
        if (l.kind == role::subscriber) {
            // The next handshake resubscribes from the map: queued (UN)SUBSCRIBEs are moot,
            // and whoever waits for them need not wait for the reconnect.
            l.link.queue().clear();
            for (auto& then : std::exchange(l.barriers, {})) {
                if (!stopped_) {
                    then();
                }
            }
        }
        // Commands in flight are lost with the connection; their handlers learn it below.
        auto lost = std::move(l.awaiting);
        l.awaiting.clear();
        if (was_connected) {
            notify_state(false);
        }
        for (auto& [number, handler] : lost) {
            if (stopped_) {
                break;  // a handler stopped the client: the others are dropped, not called
            }
            handler(nullptr);
        }
    }

    void notify_state(bool is_connected) {
        if (state_handler_) {
            state_handler_(is_connected);
        }
    }

    std::map<std::string, int, std::less<>> subscriptions_;
    std::shared_ptr<asio::ssl::context> tls_context_;  // only with TLS, shared by both links
    asio::steady_timer resume_timer_;
    bool resuming_ = false;
    bool was_ever_connected_ = false;
    connection publisher_;
    connection subscriber_;
};

redis_client::redis_client(asio::io_context& context, client_options options)
    : impl_(std::make_shared<impl>(context, std::move(options))) {}

redis_client::~redis_client() {
    impl_->stop();
    // Completions still queued keep impl alive but see a new generation and return; dropping
    // the handlers releases whatever they captured now, with the client.
    impl_->message_handler_ = nullptr;
    impl_->state_handler_ = nullptr;
    impl_->topology_handler_ = nullptr;
}

void redis_client::set_message_handler(message_handler handler) {
    impl_->message_handler_ = std::move(handler);
}

void redis_client::set_state_handler(state_handler handler) {
    impl_->state_handler_ = std::move(handler);
}

void redis_client::set_topology_handler(topology_handler handler) {
    impl_->topology_handler_ = std::move(handler);
}

bool redis_client::command(const std::vector<std::string>& arguments, reply_handler handler) {
    return impl_->command(arguments, std::move(handler));
}

bool redis_client::command(std::string_view /*key*/, const std::vector<std::string>& arguments,
                           reply_handler handler) {
    return impl_->command(arguments, std::move(handler));
}

void redis_client::start() {
    impl_->start();
}
void redis_client::stop() {
    impl_->stop();
}

bool redis_client::publish(std::string_view channel, shared_buffer payload) {
    return impl_->publish(channel, std::move(payload));
}

void redis_client::subscribe(const std::string& channel) {
    impl_->subscribe(channel);
}
void redis_client::unsubscribe(const std::string& channel) {
    impl_->unsubscribe(channel);
}
void redis_client::when_subscribed(const std::string&, std::function<void()> then) {
    impl_->when_subscribed(std::move(then));
}

bool redis_client::connected() const noexcept {
    return impl_->connected();
}
client_statistics redis_client::statistics() const noexcept {
    return impl_->statistics();
}
std::size_t redis_client::queued_bytes() const noexcept {
    return impl_->queued_bytes();
}

}  // namespace switchboard::routing::redis
