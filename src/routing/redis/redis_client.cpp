#include "routing/redis/redis_client.hpp"

#include "routing/redis/resp.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace switchboard::routing::redis {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;
using boost::system::error_code;

namespace {

void append_bulk_header(std::string& out, std::size_t size) {
    // "$" + up to 20 digits + CRLF, written in place: this runs once or twice per publish.
    std::array<char, 24> text{};
    text[0] = '$';
    const auto end = std::to_chars(text.data() + 1, text.data() + text.size() - 2, size).ptr;
    end[0] = '\r';
    end[1] = '\n';
    out.append(text.data(), static_cast<std::size_t>(end + 2 - text.data()));
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

// Payloads up to this size are copied into the outbox: a copy of a few hundred bytes costs
// less than a gather entry of its own, and a write then carries thousands of commands (Asio
// hands a socket at most 64 buffers per call). Larger payloads stay shared with the other
// recipients, never copied.
constexpr std::size_t inline_payload_limit = 4096;
// An outbox (or a partial reply) that grew past this during a burst, an outage or one large
// message gives its memory back once written (or read).
constexpr std::size_t retained_buffer_capacity = 1024 * 1024;

constexpr std::string_view crlf = "\r\n";

// Encoded commands waiting for the socket, or being written: one contiguous string for the
// encodings and small payloads, plus the large payloads by reference with the offset in
// `bytes` they go before. Appending allocates only when the string outgrows its capacity,
// which it keeps across writes.
struct outbox {
    std::string bytes;
    std::vector<std::pair<std::size_t, shared_buffer>> bodies;
    std::size_t size = 0;  // bytes and bodies
    std::size_t commands = 0;
    std::size_t publishes = 0;

    [[nodiscard]] bool empty() const noexcept { return commands == 0; }

    void append_command(std::string_view encoded) {
        bytes.append(encoded);
        size += encoded.size();
        ++commands;
    }

    void append_publish(std::string_view head, std::string_view channel,
                        const shared_buffer& payload) {
        const auto before = bytes.size();
        bytes.append(head);
        append_bulk(bytes, channel);
        append_bulk_header(bytes, payload->size());
        if (payload->size() <= inline_payload_limit) {
            bytes.append(*payload);
        } else {
            bodies.emplace_back(bytes.size(), payload);
            size += payload->size();
        }
        bytes.append(crlf);
        size += bytes.size() - before;
        ++commands;
        ++publishes;
    }

    // The gather list of a write; valid until the outbox changes.
    void buffers(std::vector<asio::const_buffer>& out) const {
        out.clear();
        std::size_t from = 0;
        for (const auto& [offset, body] : bodies) {
            out.emplace_back(bytes.data() + from, offset - from);
            out.emplace_back(asio::buffer(*body));
            from = offset;
        }
        out.emplace_back(bytes.data() + from, bytes.size() - from);
    }

    void clear() noexcept {
        bytes.clear();
        bodies.clear();
        size = commands = publishes = 0;
    }
};

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
asio::ssl::context make_tls_context(const connection_options& connection) {
    asio::ssl::context context(asio::ssl::context::tls_client);
    // TLS 1.2 is the oldest version Redis 6+ and the managed services accept; the older ones
    // have known weaknesses.
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    error_code ec;
    auto check = [&ec](std::string_view what, std::string_view file = {}) {
        if (ec) {
            throw std::invalid_argument("Redis TLS: " + std::string(what) +
                                        (file.empty() ? "" : " '" + std::string(file) + "'") +
                                        ": " + ec.message());
        }
    };
    if (connection.tls_insecure_skip_verify) {
        context.set_verify_mode(asio::ssl::verify_none, ec);
        check("cannot turn verification off");
        spdlog::warn(
            "redis: TLS certificate verification is OFF (sslInsecureSkipVerify): the connection "
            "to {} is encrypted but not authenticated",
            connection.host);
    } else {
        context.set_verify_mode(asio::ssl::verify_peer, ec);
        check("cannot turn verification on");
        if (!connection.tls_ca_file.empty()) {
            context.load_verify_file(connection.tls_ca_file, ec);
            check("cannot load the CA file", connection.tls_ca_file);
        } else {
            context.set_default_verify_paths(ec);
            check("cannot load the system trust store");
        }
    }
    if (!connection.tls_cert_file.empty()) {
        context.use_certificate_chain_file(connection.tls_cert_file, ec);
        check("cannot load the client certificate", connection.tls_cert_file);
        context.use_private_key_file(connection.tls_key_file, asio::ssl::context::pem, ec);
        check("cannot load the client key", connection.tls_key_file);
    }
    return context;
}

bool is_ip_address(const std::string& host) {
    error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
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
        tcp::socket socket;  // plain TCP; unused with TLS
        // TLS: a fresh stream (and socket) per attempt, as an SSL session cannot be reused
        // after a failure. The handlers of its pending operations hold a reference too, so a
        // teardown never frees it under them.
        std::shared_ptr<tls_stream> tls;
        tcp::resolver resolver;
        asio::steady_timer timer;  // connect deadline while connecting, backoff while idle
        std::unique_ptr<redisReader, reader_deleter> reader;
        // 64 KiB: a busy subscribe link takes about a hundred messages of a few hundred bytes
        // per read; with 16 KiB the receive syscalls were a quarter of its time and the
        // generator's CPU per received message 12-25% higher. Larger messages arrive in
        // several reads, which the reader reassembles.
        std::array<char, 64 * 1024> read_buffer{};
        std::string partial;  // the start of a reply the last read cut off
        link_state state = link_state::idle;
        // Bumped whenever the connection is torn down: completions of an older attempt see a
        // different number and do nothing, so one failure is handled exactly once.
        std::uint64_t generation = 0;
        std::chrono::milliseconds backoff{0};
        std::string handshake;
        int pending_handshake_replies = 0;  // AUTH/SELECT first, then channel confirmations
        int pending_setup_replies = 0;      // AUTH/SELECT only
        std::set<std::string, std::less<>> handshake_channels;
        outbox queue;
        outbox writing;
        std::vector<asio::const_buffer> buffers;
        bool write_in_flight = false;
        // command() replies (publish link): replies after the handshake are numbered in
        // order; a handler waits for the number of its command. Publishes pay a counter.
        // Unsent ones hold their command's position in `queue`.
        std::deque<std::pair<std::size_t, reply_handler>> unsent_handlers;
        std::deque<std::pair<std::uint64_t, reply_handler>> awaiting;
        // when_subscribed() callbacks, one per PING on the subscribe connection, in order.
        std::deque<std::function<void()>> barriers;
        std::uint64_t commands_sent = 0;
        std::uint64_t replies_received = 0;
        // Sharded mode (subscribe link): channels with an SUNSUBSCRIBE of ours in flight, so
        // an sunsubscribe the server sends on its own (slot moved) can be told apart.
        std::set<std::string, std::less<>> unsubscribing;

        tcp::socket& tcp_socket() noexcept { return tls ? tls->next_layer() : socket; }
    };

    impl(asio::io_context& context, client_options options)
        : options_(std::move(options)),
          resume_timer_(context),
          health_timer_(context),
          publisher_(context, role::publisher),
          subscriber_(context, role::subscriber) {
        if (options_.connection.host.empty()) {
            throw std::invalid_argument("Redis host is empty");
        }
        if (options_.connection.tls) {
            // Startup may throw (DESIGN.md, decision 7): a CA file that cannot be read must
            // stop the server, not turn into an endless reconnect loop.
            tls_context_.emplace(make_tls_context(options_.connection));
            tls_name_ = options_.connection.tls_host.empty() ? options_.connection.host
                                                             : options_.connection.tls_host;
        }
        publisher_.backoff = subscriber_.backoff = options_.initial_backoff;
        if (options_.connection.sharded) {
            publish_head_ = "*3\r\n$8\r\nSPUBLISH\r\n";
            subscribe_command_ = "SSUBSCRIBE";
            unsubscribe_command_ = "SUNSUBSCRIBE";
        }
    }

    void start() {
        stopped_ = false;
        do_resolve(publisher_);
        do_resolve(subscriber_);
    }

    void stop() {
        stopped_ = true;
        resuming_ = false;
        resume_timer_.cancel();
        health_timer_.cancel();
        for (auto* l : {&publisher_, &subscriber_}) {
            tear_down(*l);
            l->queue.clear();
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
        if (publisher_.queue.size + size > options_.max_queued_bytes) {
            ++statistics_.dropped;
            statistics_.dropped_bytes += size;
            return false;
        }
        publisher_.queue.append_publish(publish_head_, channel, payload);
        do_write(publisher_);
        return true;
    }

    bool command(const std::vector<std::string>& arguments, reply_handler handler) {
        std::vector<std::string_view> views(arguments.begin(), arguments.end());
        const auto encoded = encode_array(views);
        if (publisher_.queue.size + encoded.size() > options_.max_queued_bytes) {
            return false;
        }
        publisher_.unsent_handlers.emplace_back(publisher_.queue.commands, std::move(handler));
        publisher_.queue.append_command(encoded);
        do_write(publisher_);
        return true;
    }

    void subscribe(const std::string& channel) {
        if (++subscriptions_[channel] == 1 && subscriber_.state == link_state::ready) {
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
            if (subscriber_.state == link_state::ready) {
                send_subscription(subscriber_, unsubscribe_command_, channel);
            }
        }
    }

    void when_subscribed(std::function<void()> then) {
        if (subscriber_.state != link_state::ready) {
            return then();
        }
        subscriber_.barriers.push_back(std::move(then));
        subscriber_.queue.append_command(encode_array({"PING"}));
        do_write(subscriber_);
    }

    [[nodiscard]] bool connected() const noexcept {
        return publisher_.state == link_state::ready && subscriber_.state == link_state::ready;
    }

    client_options options_;
    // Classic pub/sub, or sharded (Redis 7, SPUBLISH and friends) for cluster_client.
    std::string_view publish_head_ = "*3\r\n$7\r\nPUBLISH\r\n";
    std::string_view subscribe_command_ = "SUBSCRIBE";
    std::string_view unsubscribe_command_ = "UNSUBSCRIBE";
    topology_handler topology_handler_;
    std::optional<asio::ssl::context> tls_context_;  // only with TLS, shared by both links
    std::string tls_name_;                           // SNI and the certificate's expected name
    message_handler message_handler_;
    state_handler state_handler_;
    client_statistics statistics_;
    bool stopped_ = true;

private:
    static const char* name(const link& l) {
        return l.kind == role::publisher ? "publish" : "subscribe";
    }

    // Runs an I/O initiation on the link's stream: the plain socket or the TLS stream. One
    // branch per call keeps the plain path as it was, with no virtual stream underneath.
    template <class Initiation>
    static void with_stream(link& l, Initiation&& initiation) {
        if (l.tls) {
            initiation(*l.tls);
        } else {
            initiation(l.socket);
        }
    }

    void do_resolve(link& l) {
        l.state = link_state::connecting;
        const auto generation = ++l.generation;
        if (tls_context_) {
            l.tls = std::make_shared<tls_stream>(l.socket.get_executor(), *tls_context_);
            // SNI lets a proxy or a managed service pick the certificate; RFC 6066 forbids it
            // for IP addresses, which are checked against the certificate's IP entries.
            if (!is_ip_address(tls_name_)) {
                SSL_set_tlsext_host_name(l.tls->native_handle(), tls_name_.c_str());
            }
            if (!options_.connection.tls_insecure_skip_verify) {
                error_code ignored;  // fails only for a null SSL handle
                l.tls->set_verify_callback(asio::ssl::host_name_verification(tls_name_), ignored);
            }
        }
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
            l.tcp_socket(), results,
            [self = shared_from_this(), &l, generation, guard = l.tls](
                error_code ec, const tcp::endpoint&) { self->on_connect(l, generation, ec); });
    }

    void on_connect(link& l, std::uint64_t generation, error_code ec) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            return fail(l, ec, "connect");
        }
        auto& socket = l.tcp_socket();
        // Small commands must not wait for Nagle: pipelining already batches.
        socket.set_option(tcp::no_delay(true), ec);
        // A quiet subscribe link never writes, so a peer that vanished without a reset
        // (partition, crashed host) would go unnoticed for good; TCP keepalive probes after
        // 10 s idle, every 5 s, 3 times: the link fails within ~25 s, like Redis's own
        // tcp-keepalive default (300 s) but tuned for a bus that must fail over quickly.
        socket.set_option(asio::socket_base::keep_alive(true), ec);
        socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(10), ec);
        socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(5), ec);
        socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ec);
        if (!l.tls) {
            return start_session(l);
        }
        // The connect deadline still runs: a server that never finishes the handshake fails
        // the attempt like one that never answers.
        l.tls->async_handshake(asio::ssl::stream_base::client,
                               [self = shared_from_this(), &l, generation, guard = l.tls](
                                   error_code ec) { self->on_tls_handshake(l, generation, ec); });
    }

    void on_tls_handshake(link& l, std::uint64_t generation, error_code ec) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            // Usually configuration (wrong CA, name mismatch, plain-text port): worth more
            // than a debug line, like a refused AUTH.
            spdlog::error("redis: TLS handshake with {}:{} failed on the {} connection: {}",
                          options_.connection.host, options_.connection.port, name(l),
                          ec.message());
            return fail(l, ec, "TLS handshake");
        }
        start_session(l);
    }

    // The transport is up: AUTH, SELECT and the resubscription go out in one write.
    void start_session(link& l) {
        const auto generation = l.generation;
        l.reader.reset(redisReaderCreate());
        l.partial.clear();
        l.state = link_state::handshaking;

        // Everything the connection needs before it is usable goes out in one pipelined
        // write; Redis answers in order, so the first replies belong to the handshake.
        const auto& connection = options_.connection;
        l.handshake.clear();
        l.pending_handshake_replies = 0;
        l.commands_sent = l.replies_received = 0;
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
            // A cluster has database 0 only and refuses SELECT.
            if (connection.database != 0 && !connection.sharded) {
                const auto database = std::to_string(connection.database);
                l.handshake += encode_array({"SELECT", database});
                ++l.pending_handshake_replies;
            }
            // Ready means Redis answered, not merely that the port accepted a connection (a
            // paused or hung server accepts and then says nothing).
            l.handshake += encode_array({"PING"});
            ++l.pending_handshake_replies;
        }
        l.pending_setup_replies = l.pending_handshake_replies;
        if (l.kind == role::subscriber && !subscriptions_.empty()) {
            // Resubscribe every channel; the link is ready only once each is confirmed, so
            // a publish released by connected() cannot overtake the subscription.
            if (connection.sharded) {
                // One SSUBSCRIBE per channel: a cluster refuses one naming several slots.
                for (const auto& [channel, count] : subscriptions_) {
                    l.handshake += encode_array({subscribe_command_, channel});
                    l.handshake_channels.insert(channel);
                }
            } else {
                std::vector<std::string_view> arguments{subscribe_command_};
                for (const auto& [channel, count] : subscriptions_) {
                    arguments.push_back(channel);
                    l.handshake_channels.insert(channel);
                }
                l.handshake += encode_array(arguments);
            }
            l.pending_handshake_replies += static_cast<int>(subscriptions_.size());
        }

        do_read(l);
        if (l.pending_handshake_replies == 0) {
            return on_ready(l);
        }
        l.write_in_flight = true;
        with_stream(l, [&](auto& stream) {
            asio::async_write(stream, asio::buffer(l.handshake),
                              [self = shared_from_this(), &l, generation, guard = l.tls](
                                  error_code ec, std::size_t) {
                                  if (generation != l.generation) {
                                      return;
                                  }
                                  l.write_in_flight = false;
                                  if (ec) {
                                      return self->fail(l, ec, "write");
                                  }
                                  self->do_write(l);
                              });
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
        spdlog::debug("redis: {} connection to {}:{} ready", name(l), options_.connection.host,
                      options_.connection.port);
        if (connected()) {
            if (was_ever_connected_ && options_.resume_delay.count() > 0) {
                hold_publishes();
            }
            was_ever_connected_ = true;
            do_write(publisher_);
            notify_state(true);
        }
        if (l.kind == role::publisher && options_.health_check_interval.count() > 0) {
            last_pong_ = clock::now();
            schedule_health_check(l.generation);
        }
    }

    void schedule_health_check(std::uint64_t generation) {
        health_timer_.expires_after(options_.health_check_interval);
        health_timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
            auto& l = self->publisher_;
            if (ec || self->stopped_ || generation != l.generation) {
                return;  // the connection it watched is gone; its successor has its own
            }
            if (!self->connected() || self->resuming_) {
                // Publications and PINGs are held (see do_write): nothing to judge Redis by.
                self->last_pong_ = clock::now();
                return self->schedule_health_check(generation);
            }
            const auto silent = clock::now() - self->last_pong_;
            if (silent > 2 * self->options_.health_check_interval) {
                return self->fail(l, asio::error::timed_out, "no answer to PING");
            }
            // Queued behind the publications when some wait (the reply then comes late but
            // not missing); a full queue skips one PING, which the next interval repeats.
            self->command({"PING"}, [weak = std::weak_ptr<impl>(self)](const redisReply* reply) {
                if (auto me = weak.lock(); me && reply != nullptr) {
                    me->last_pong_ = clock::now();
                }
            });
            self->schedule_health_check(generation);
        });
    }

    void hold_publishes() {
        resuming_ = true;
        resume_timer_.expires_after(options_.resume_delay);
        resume_timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->stopped_) {
                return;  // re-armed by a newer reconnect, or stopped
            }
            self->resuming_ = false;
            self->do_write(self->publisher_);
        });
    }

    void send_subscription(link& l, std::string_view command, std::string_view channel) {
        if (options_.connection.sharded) {
            if (command == unsubscribe_command_) {
                l.unsubscribing.emplace(channel);
            } else if (auto it = l.unsubscribing.find(channel); it != l.unsubscribing.end()) {
                // Its confirmation may now pass for a server's own sunsubscribe; that costs
                // one needless resubscription, where a stale entry could hide a real one.
                l.unsubscribing.erase(it);
            }
        }
        l.queue.append_command(encode_array({command, channel}));
        do_write(l);
    }

    void do_read(link& l) {
        with_stream(l, [&](auto& stream) {
            stream.async_read_some(
                asio::buffer(l.read_buffer),
                [self = shared_from_this(), &l, generation = l.generation, guard = l.tls](
                    error_code ec, std::size_t size) { self->on_read(l, generation, ec, size); });
        });
    }

    void on_read(link& l, std::uint64_t generation, error_code ec, std::size_t size) {
        if (generation != l.generation) {
            return;
        }
        if (ec) {
            return fail(l, ec, "read");
        }
        // Replies are framed here, and the two a busy connection is made of are taken in
        // place: a PUBLISH's integer and a pushed message, without a hiredis object each (five
        // allocations and two more copies of the payload per message). Any other reply goes
        // through the reader whole, so the reader never holds part of one.
        std::string_view data(l.read_buffer.data(), size);
        if (!l.partial.empty()) {
            l.partial.append(data);
            data = l.partial;
        }
        std::size_t used = 0;
        while (used < data.size()) {
            const auto rest = data.substr(used);
            const auto extent = resp::reply_size(rest);
            if (!extent) {
                spdlog::warn("redis: protocol error on the {} connection: not RESP2 (byte {:#04x})",
                             name(l), static_cast<unsigned char>(rest.front()));
                return fail(l, asio::error::invalid_argument, "protocol");
            }
            if (*extent == 0) {
                break;  // the rest of it comes with the next read
            }
            const auto reply = rest.substr(0, *extent);
            used += reply.size();
            if (!take_in_place(l, reply) && !take_with_reader(l, reply)) {
                return;  // the link failed
            }
            // A handler may have stopped the client or the reply failed the link.
            if (generation != l.generation) {
                return;
            }
        }
        if (data.data() == l.partial.data()) {
            l.partial.erase(0, used);
        } else {
            l.partial.assign(data.substr(used));
        }
        if (l.partial.empty() && l.partial.capacity() > retained_buffer_capacity) {
            l.partial = std::string();
        }
        do_read(l);
    }

    // The replies that need no reader: false for any other.
    bool take_in_place(link& l, std::string_view reply) {
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
    bool take_with_reader(link& l, std::string_view bytes) {
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

    void on_reply(link& l, const redisReply& reply) {
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

    void on_error_reply(link& l, const redisReply& reply) {
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
    void on_sunsubscribe(link& l, const redisReply& reply) {
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
    static bool is_pong(const redisReply& reply) {
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

    void do_write(link& l) {
        if (l.write_in_flight || l.queue.empty() || l.state != link_state::ready) {
            return;
        }
        // Publishes wait until the subscriptions are back too (see the class comment), and
        // after a reconnect for the other instances' subscriptions (resume_delay).
        if (l.kind == role::publisher && (!connected() || resuming_)) {
            return;
        }
        // Everything queued goes out in one write: one syscall for many commands. The two
        // outboxes trade places, so the one being written is never appended to and both keep
        // their capacity.
        for (auto& [position, handler] : l.unsent_handlers) {
            l.awaiting.emplace_back(l.commands_sent + position, std::move(handler));
        }
        l.unsent_handlers.clear();
        l.commands_sent += l.queue.commands;
        statistics_.published += l.queue.publishes;
        std::swap(l.queue, l.writing);
        l.queue.clear();
        l.writing.buffers(l.buffers);
        l.write_in_flight = true;
        with_stream(l, [&](auto& stream) {
            asio::async_write(stream, l.buffers,
                              [self = shared_from_this(), &l, generation = l.generation,
                               guard = l.tls](error_code ec, std::size_t) {
                                  if (generation != l.generation) {
                                      return;
                                  }
                                  l.write_in_flight = false;
                                  l.writing.clear();
                                  if (l.writing.bytes.capacity() > retained_buffer_capacity) {
                                      l.writing.bytes = std::string();
                                  }
                                  if (ec) {
                                      return self->fail(l, ec, "write");
                                  }
                                  self->do_write(l);
                              });
        });
    }

    // Ends the current attempt: later completions of it are ignored.
    void tear_down(link& l) {
        ++l.generation;
        error_code ignored;
        l.tcp_socket().close(ignored);
        // Its pending handlers keep the stream alive until they have seen the abort.
        l.tls.reset();
        l.resolver.cancel();
        l.timer.cancel();
        l.state = link_state::idle;
        l.write_in_flight = false;
        l.writing.clear();
        l.buffers.clear();
        l.pending_handshake_replies = 0;
        l.pending_setup_replies = 0;
        l.unsubscribing.clear();
    }

    void fail(link& l, error_code ec, std::string_view what) {
        const bool was_connected = connected();
        if (l.state == link_state::ready) {
            spdlog::warn("redis: {} connection to {}:{} lost ({}: {}); reconnecting", name(l),
                         options_.connection.host, options_.connection.port, what, ec.message());
        } else {
            // The first failure of a series is worth a warning (a wrong host or port at
            // startup would otherwise look like a healthy server); the retries are not.
            const bool first = l.backoff == options_.initial_backoff;
            spdlog::log(first ? spdlog::level::warn : spdlog::level::debug,
                        "redis: {} connection to {}:{} failed ({}: {}); retrying in {} ms", name(l),
                        options_.connection.host, options_.connection.port, what, ec.message(),
                        l.backoff.count());
        }
        tear_down(l);
        if (l.kind == role::subscriber) {
            // The next handshake resubscribes from the map: queued (UN)SUBSCRIBEs are moot,
            // and whoever waits for them need not wait for the reconnect.
            l.queue.clear();
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
    using clock = std::chrono::steady_clock;
    asio::steady_timer resume_timer_;
    asio::steady_timer health_timer_;
    clock::time_point last_pong_{};
    bool resuming_ = false;
    bool was_ever_connected_ = false;
    link publisher_;
    link subscriber_;

public:
    // The publisher's queue only; bytes being written are the socket's.
    [[nodiscard]] std::size_t queued_bytes() const noexcept { return publisher_.queue.size; }
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
    return impl_->statistics_;
}
std::size_t redis_client::queued_bytes() const noexcept {
    return impl_->queued_bytes();
}

}  // namespace switchboard::routing::redis
