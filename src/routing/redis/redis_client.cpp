#include "routing/redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace switchboard::routing::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

void append_bulk_header(std::string& out, std::size_t size) {
    out += '$';
    out += std::to_string(size);
    out += "\r\n";
}

void append_bulk(std::string& out, std::string_view argument) {
    append_bulk_header(out, argument.size());
    out.append(argument);
    out += "\r\n";
}

std::string encode_array(const std::vector<std::string_view>& arguments) {
    std::string out = "*" + std::to_string(arguments.size()) + "\r\n";
    for (auto argument : arguments) {
        append_bulk(out, argument);
    }
    return out;
}

// One command waiting for the socket: an encoded head, and for PUBLISH the payload shared with
// every other recipient (never copied) followed by the closing CRLF.
struct queued_command {
    std::string head;
    shared_buffer body;

    [[nodiscard]] std::size_t size() const noexcept {
        return head.size() + (body ? body->size() + 2 : 0);
    }
};

constexpr std::string_view crlf = "\r\n";

struct reader_deleter {
    void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};
struct reply_deleter {
    void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};

std::string_view reply_string(const redisReply* reply) {
    return {reply->str, reply->len};
}

}  // namespace

class redis_client::impl : public std::enable_shared_from_this<redis_client::impl> {
public:
    enum class role { publisher, subscriber };
    enum class link_state { idle, connecting, handshaking, ready };

    // One TCP connection to Redis with its own reader, write queue and reconnect timer.
    struct link {
        link(asio::io_context& context, role r)
            : kind(r), socket(context), resolver(context), timer(context) {}
        role kind;
        tcp::socket socket;
        tcp::resolver resolver;
        asio::steady_timer timer;  // connect deadline while connecting, backoff while idle
        std::unique_ptr<redisReader, reader_deleter> reader;
        // 16 KiB: one read usually holds many small pub/sub messages; larger ones arrive in
        // several reads, which the reader reassembles.
        std::array<char, 16 * 1024> read_buffer{};
        link_state state = link_state::idle;
        // Bumped whenever the connection is torn down: completions of an older attempt see a
        // different number and do nothing, so one failure is handled exactly once.
        std::uint64_t generation = 0;
        std::chrono::milliseconds backoff{0};
        std::string handshake;
        int pending_handshake_replies = 0;
        std::set<std::string, std::less<>> handshake_channels;
        std::deque<queued_command> queue;
        std::vector<queued_command> writing;
        std::vector<asio::const_buffer> buffers;
        bool write_in_flight = false;
    };

    impl(asio::io_context& context, client_options options)
        : options_(std::move(options)),
          publisher_(context, role::publisher),
          subscriber_(context, role::subscriber) {
        // TODO(tls): wrap the socket in asio::ssl::stream (OpenSSL is already a dependency):
        // handshake after connect, SNI from the host, verify against the system store. The
        // hiredis reader is transport-agnostic, so only the link's socket type changes.
        // TODO(health): TCP keepalive (on_connect) finds dead peers; a periodic PING would
        // also catch a Redis that accepts bytes but no longer answers.
        if (options_.connection.tls) {
            // Startup may throw (DESIGN.md, decision 7); silently connecting in clear text
            // to a server that expects TLS would be worse.
            throw std::invalid_argument(
                "Redis over TLS (ssl=true, rediss://) is not supported yet");
        }
        if (options_.connection.host.empty()) {
            throw std::invalid_argument("Redis host is empty");
        }
        publisher_.backoff = subscriber_.backoff = options_.initial_backoff;
    }

    void start() {
        stopped_ = false;
        do_resolve(publisher_);
        do_resolve(subscriber_);
    }

    void stop() {
        stopped_ = true;
        for (auto* l : {&publisher_, &subscriber_}) {
            tear_down(*l);
            l->queue.clear();
        }
        queued_bytes_ = 0;
    }

    bool publish(std::string_view channel, shared_buffer payload) {
        if (!payload) {
            payload = make_shared_buffer({});
        }
        queued_command command;
        command.head.reserve(32 + channel.size());
        command.head = "*3\r\n$7\r\nPUBLISH\r\n";
        append_bulk(command.head, channel);
        append_bulk_header(command.head, payload->size());
        command.body = std::move(payload);
        const auto size = command.size();
        if (queued_bytes_ + size > options_.max_queued_bytes) {
            ++statistics_.dropped;
            statistics_.dropped_bytes += size;
            return false;
        }
        queued_bytes_ += size;
        publisher_.queue.push_back(std::move(command));
        do_write(publisher_);
        return true;
    }

    void subscribe(const std::string& channel) {
        if (++subscriptions_[channel] == 1 && subscriber_.state == link_state::ready) {
            send_subscription(subscriber_, "SUBSCRIBE", channel);
        }
    }

    void unsubscribe(const std::string& channel) {
        auto it = subscriptions_.find(channel);
        if (it == subscriptions_.end()) {
            return;
        }
        if (--it->second == 0) {
            subscriptions_.erase(it);
            if (subscriber_.state == link_state::ready) {
                send_subscription(subscriber_, "UNSUBSCRIBE", channel);
            }
        }
    }

    [[nodiscard]] bool connected() const noexcept {
        return publisher_.state == link_state::ready && subscriber_.state == link_state::ready;
    }

    client_options options_;
    message_handler message_handler_;
    state_handler state_handler_;
    client_statistics statistics_;
    std::size_t queued_bytes_ = 0;  // publisher queue only; in-flight bytes are the socket's
    bool stopped_ = true;

private:
    static const char* name(const link& l) {
        return l.kind == role::publisher ? "publish" : "subscribe";
    }

    void do_resolve(link& l) {
        l.state = link_state::connecting;
        const auto generation = ++l.generation;
        l.timer.expires_after(options_.connect_timeout);
        l.timer.async_wait([self = shared_from_this(), &l, generation](error_code ec) {
            if (!ec && generation == l.generation && l.state != link_state::ready) {
                self->fail(l, asio::error::timed_out, "connect timeout");
            }
        });
        l.resolver.async_resolve(options_.connection.host, std::to_string(options_.connection.port),
                                 [self = shared_from_this(), &l, generation](
                                     error_code ec, tcp::resolver::results_type results) {
                                     self->on_resolve(l, generation, ec, std::move(results));
                                 });
    }

    void on_resolve(link& l, std::uint64_t generation, error_code ec,
                    tcp::resolver::results_type results) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            return fail(l, ec, "resolve");
        }
        asio::async_connect(
            l.socket, results,
            [self = shared_from_this(), &l, generation](error_code ec, const tcp::endpoint&) {
                self->on_connect(l, generation, ec);
            });
    }

    void on_connect(link& l, std::uint64_t generation, error_code ec) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            return fail(l, ec, "connect");
        }
        // Small commands must not wait for Nagle: pipelining already batches.
        l.socket.set_option(tcp::no_delay(true), ec);
        // A quiet subscribe link never writes, so a peer that vanished without a reset
        // (partition, crashed host) would go unnoticed for good; TCP keepalive probes after
        // 10 s idle, every 5 s, 3 times: the link fails within ~25 s, like Redis's own
        // tcp-keepalive default (300 s) but tuned for a bus that must fail over quickly.
        l.socket.set_option(asio::socket_base::keep_alive(true), ec);
        l.socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(10),
                            ec);
        l.socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(5),
                            ec);
        l.socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ec);
        l.reader.reset(redisReaderCreate());
        l.state = link_state::handshaking;

        // Everything the connection needs before it is usable goes out in one pipelined
        // write; Redis answers in order, so the first replies belong to the handshake.
        const auto& connection = options_.connection;
        l.handshake.clear();
        l.pending_handshake_replies = 0;
        if (!connection.user.empty()) {
            l.handshake += encode_array({"AUTH", connection.user, connection.password});
            ++l.pending_handshake_replies;
        } else if (!connection.password.empty()) {
            l.handshake += encode_array({"AUTH", connection.password});
            ++l.pending_handshake_replies;
        }
        l.handshake_channels.clear();
        if (l.kind == role::publisher) {
            // Pub/sub ignores databases; SELECT matters only for future commands on this link.
            if (connection.database != 0) {
                const auto database = std::to_string(connection.database);
                l.handshake += encode_array({"SELECT", database});
                ++l.pending_handshake_replies;
            }
        } else if (!subscriptions_.empty()) {
            // Resubscribe every channel; the link is ready only once each is confirmed, so
            // a publish released by connected() cannot overtake the subscription.
            std::vector<std::string_view> arguments{"SUBSCRIBE"};
            for (const auto& [channel, count] : subscriptions_) {
                arguments.push_back(channel);
                l.handshake_channels.insert(channel);
            }
            l.handshake += encode_array(arguments);
            l.pending_handshake_replies += static_cast<int>(subscriptions_.size());
        }

        do_read(l);
        if (l.pending_handshake_replies == 0) {
            return on_ready(l);
        }
        l.write_in_flight = true;
        asio::async_write(l.socket, asio::buffer(l.handshake),
                          [self = shared_from_this(), &l, generation](error_code ec, std::size_t) {
                              if (generation != l.generation) {
                                  return;
                              }
                              l.write_in_flight = false;
                              if (ec) {
                                  return self->fail(l, ec, "write");
                              }
                              self->do_write(l);
                          });
    }

    void on_ready(link& l) {
        l.state = link_state::ready;
        l.backoff = options_.initial_backoff;
        l.timer.cancel();
        if (l.kind == role::subscriber) {
            // subscribe()/unsubscribe() calls made during the handshake only changed the map.
            for (const auto& [channel, count] : subscriptions_) {
                if (!l.handshake_channels.contains(channel)) {
                    send_subscription(l, "SUBSCRIBE", channel);
                }
            }
            for (const auto& channel : l.handshake_channels) {
                if (!subscriptions_.contains(channel)) {
                    send_subscription(l, "UNSUBSCRIBE", channel);
                }
            }
            l.handshake_channels.clear();
        }
        spdlog::debug("redis: {} connection to {}:{} ready", name(l), options_.connection.host,
                      options_.connection.port);
        if (connected()) {
            do_write(publisher_);
            notify_state(true);
        }
    }

    void send_subscription(link& l, std::string_view command, std::string_view channel) {
        l.queue.push_back(queued_command{encode_array({command, channel}), nullptr});
        do_write(l);
    }

    void do_read(link& l) {
        l.socket.async_read_some(
            asio::buffer(l.read_buffer),
            [self = shared_from_this(), &l, generation = l.generation](
                error_code ec, std::size_t size) { self->on_read(l, generation, ec, size); });
    }

    void on_read(link& l, std::uint64_t generation, error_code ec, std::size_t size) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            return fail(l, ec, "read");
        }
        if (redisReaderFeed(l.reader.get(), l.read_buffer.data(), size) != REDIS_OK) {
            return fail(l, asio::error::no_memory, "reader");
        }
        while (true) {
            void* raw = nullptr;
            if (redisReaderGetReply(l.reader.get(), &raw) != REDIS_OK) {
                spdlog::warn("redis: protocol error on the {} connection: {}", name(l),
                             l.reader->errstr);
                return fail(l, asio::error::invalid_argument, "protocol");
            }
            if (raw == nullptr) {
                break;
            }
            std::unique_ptr<void, reply_deleter> reply(raw);
            on_reply(l, *static_cast<const redisReply*>(raw));
            // A handler may have stopped the client or the reply failed the link.
            if (generation != l.generation) {
                return;
            }
        }
        do_read(l);
    }

    void on_reply(link& l, const redisReply& reply) {
        // Messages first: while several channels are being resubscribed, messages of the
        // channels already confirmed arrive between the confirmations and must neither be
        // lost nor counted as handshake replies.
        if (l.kind == role::subscriber && is_message(reply)) {
            return deliver(reply);
        }
        if (l.pending_handshake_replies > 0) {
            if (reply.type == REDIS_REPLY_ERROR) {
                spdlog::error("redis: {} connection handshake refused: {}", name(l),
                              reply_string(&reply));
                return fail(l, asio::error::access_denied, "handshake");
            }
            if (--l.pending_handshake_replies == 0) {
                on_ready(l);
            }
            return;
        }
        if (reply.type == REDIS_REPLY_ERROR) {
            ++statistics_.error_replies;
            spdlog::warn("redis: error reply on the {} connection: {}", name(l),
                         reply_string(&reply));
        }
        // Anything else: PUBLISH's receiver count, (un)subscribe confirmations.
    }

    // ["message", channel, payload], the RESP2 push of a subscribed connection.
    static bool is_message(const redisReply& reply) {
        return reply.type == REDIS_REPLY_ARRAY && reply.elements == 3 &&
               reply.element[0]->type == REDIS_REPLY_STRING &&
               reply.element[1]->type == REDIS_REPLY_STRING &&
               reply.element[2]->type == REDIS_REPLY_STRING &&
               reply_string(reply.element[0]) == "message";
    }

    void deliver(const redisReply& reply) {
        const auto channel = reply_string(reply.element[1]);
        // Messages still in flight after our UNSUBSCRIBE are not for us any more.
        if (!subscriptions_.contains(channel) || !message_handler_) {
            return;
        }
        ++statistics_.received;
        // One copy out of the reader's reply; TODO(perf): custom redisReplyObjectFunctions
        // could build the shared string directly and save it.
        const auto* payload = reply.element[2];
        message_handler_(channel, make_shared_buffer(std::string(payload->str, payload->len)));
    }

    void do_write(link& l) {
        if (l.write_in_flight || l.queue.empty() || l.state != link_state::ready) {
            return;
        }
        // Publishes wait until the subscriptions are back too (see the class comment).
        if (l.kind == role::publisher && !connected()) {
            return;
        }
        // Everything queued goes out in one gather write: one syscall for many commands.
        l.buffers.clear();
        for (auto& command : l.queue) {
            l.buffers.emplace_back(asio::buffer(command.head));
            if (command.body) {
                l.buffers.emplace_back(asio::buffer(*command.body));
                l.buffers.emplace_back(asio::buffer(crlf));
                ++statistics_.published;
            }
            if (l.kind == role::publisher) {
                queued_bytes_ -= command.size();
            }
            l.writing.push_back(std::move(command));
        }
        l.queue.clear();
        l.write_in_flight = true;
        asio::async_write(
            l.socket, l.buffers,
            [self = shared_from_this(), &l, generation = l.generation](error_code ec, std::size_t) {
                if (generation != l.generation) {
                    return;
                }
                l.write_in_flight = false;
                l.writing.clear();
                if (ec) {
                    return self->fail(l, ec, "write");
                }
                self->do_write(l);
            });
    }

    // Ends the current attempt: later completions of it are ignored.
    void tear_down(link& l) {
        ++l.generation;
        error_code ignored;
        l.socket.close(ignored);
        l.resolver.cancel();
        l.timer.cancel();
        l.state = link_state::idle;
        l.write_in_flight = false;
        l.writing.clear();
        l.buffers.clear();
        l.pending_handshake_replies = 0;
    }

    void fail(link& l, error_code ec, std::string_view what) {
        const bool was_connected = connected();
        if (l.state == link_state::ready) {
            spdlog::warn("redis: {} connection to {}:{} lost ({}: {}); reconnecting", name(l),
                         options_.connection.host, options_.connection.port, what, ec.message());
        } else {
            spdlog::debug("redis: {} connection to {}:{} failed ({}: {}); retrying in {} ms",
                          name(l), options_.connection.host, options_.connection.port, what,
                          ec.message(), l.backoff.count());
        }
        tear_down(l);
        if (l.kind == role::subscriber) {
            // The next handshake resubscribes from the map: queued (UN)SUBSCRIBEs are moot.
            l.queue.clear();
        }
        if (was_connected) {
            notify_state(false);
        }
        if (stopped_) {
            return;
        }
        ++statistics_.reconnects;
        const auto generation = l.generation;
        l.timer.expires_after(l.backoff);
        l.backoff = std::min(l.backoff * 2, options_.max_backoff);
        l.timer.async_wait([self = shared_from_this(), &l, generation](error_code ec) {
            if (!ec && generation == l.generation && !self->stopped_) {
                self->do_resolve(l);
            }
        });
    }

    void notify_state(bool is_connected) {
        if (state_handler_) {
            state_handler_(is_connected);
        }
    }

    std::map<std::string, int, std::less<>> subscriptions_;
    link publisher_;
    link subscriber_;

public:
    [[nodiscard]] std::size_t queued_bytes() const noexcept { return queued_bytes_; }
};

redis_client::redis_client(asio::io_context& context, client_options options)
    : impl_(std::make_shared<impl>(context, std::move(options))) {}

redis_client::~redis_client() {
    impl_->stop();
    // Completions still queued keep impl alive but see a new generation and return; dropping
    // the handlers releases whatever they captured now, with the client.
    impl_->message_handler_ = nullptr;
    impl_->state_handler_ = nullptr;
}

void redis_client::set_message_handler(message_handler handler) {
    impl_->message_handler_ = std::move(handler);
}

void redis_client::set_state_handler(state_handler handler) {
    impl_->state_handler_ = std::move(handler);
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
bool redis_client::connected() const noexcept {
    return impl_->connected();
}
client_statistics redis_client::statistics() const noexcept {
    return impl_->statistics_;
}
std::size_t redis_client::queued_bytes() const noexcept {
    return impl_->queued_bytes();
}

}  // namespace switchboard::routing::redis
