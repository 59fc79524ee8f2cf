// One TCP (optionally TLS) connection to a backend server that reconnects on its own: resolve,
// connect under a deadline, handshake TLS, read, write the outbox in one gather write, retry
// with jittered backoff, watch liveness. The protocol on top (RESP, the PostgreSQL or NATS
// wire) is the owner's, through link_owner.
#pragma once

#include "routing/link/backoff.hpp"
#include "routing/link/outbox.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::link {

class reconnecting_link;

// What the protocol on a link is told. Every call comes on the link's io_context, from inside
// a completion of the link's own.
class link_owner {
public:
    // The transport is up and reading: start the protocol's handshake (send_handshake()), and
    // call set_ready() once the server answered it.
    virtual void on_transport_up(reconnecting_link& link) = 0;
    // Bytes read, after whatever the last call left unused. Returns how many it used; the rest
    // (the start of a message cut by the read) comes again in front of the next read. The
    // owner may fail() or stop the link inside: the link then neither keeps nor reads more.
    virtual std::size_t on_data(reconnecting_link& link, std::string_view data) = 0;
    // Whether the queued bytes may go out now, beyond the link being ready (a publisher waits
    // for its subscriptions). While false, the health check has nothing to judge by.
    [[nodiscard]] virtual bool may_write(const reconnecting_link& link) const = 0;
    // The queue is about to be written as one write: the bookkeeping of what goes out.
    virtual void on_write(reconnecting_link& link, const outbox& queued) = 0;
    // The connection is gone (`was_ready`: it had been usable), its state reset, its queue
    // kept; the reconnect is scheduled right after, unless the link was stopped meanwhile.
    virtual void on_down(reconnecting_link& link, bool was_ready) = 0;
    // The health check's probe: send something the server must answer, and call
    // health_answered() when it does.
    virtual void on_health_probe(reconnecting_link& link) = 0;

protected:
    ~link_owner() = default;
};

struct link_options {
    std::string host;
    std::uint16_t port = 0;
    // For log lines: "<log_name>: <role> connection to host:port ...".
    std::string log_name;
    std::string role;
    // From starting to resolve until set_ready(); a blackholed host otherwise waits out the
    // kernel's SYN retries (minutes).
    std::chrono::milliseconds connect_timeout{5000};
    // Quick first retry for a restart or failover, capped so a long outage costs one attempt
    // per 5 s per connection rather than a busy loop; jittered (backoff.hpp).
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
    // A probe this often while ready; no answer for two intervals fails the link. TCP
    // keepalive finds a vanished host; this finds a server that still accepts bytes but
    // stopped answering. 0 turns it off.
    std::chrono::milliseconds health_check_interval{0};
    // TLS: null for plain TCP. Shared by the links of one client; the context is built at
    // startup (make_client_tls_context).
    std::shared_ptr<boost::asio::ssl::context> tls;
    std::string tls_server_name;  // SNI and the certificate's expected name
    bool tls_verify = true;
};

// States: idle (waiting to retry, or stopped) -> connecting (resolve, connect, TLS) ->
// handshaking (the owner's protocol setup) -> ready (set_ready()); any failure goes back to
// idle through fail(), once per attempt: every completion carries the generation of its
// attempt and does nothing when the link has moved on.
// Lifetime: the owner holds the link; start() takes a pointer that keeps the owner (and so
// the link) alive while completions are pending, as the owner's shared_from_this() would.
// Threading: every member on the io_context given at construction.
class reconnecting_link {
public:
    using tcp = boost::asio::ip::tcp;
    using tls_stream = boost::asio::ssl::stream<tcp::socket>;

    reconnecting_link(boost::asio::io_context& context, link_options options, link_owner& owner);
    reconnecting_link(const reconnecting_link&) = delete;
    reconnecting_link& operator=(const reconnecting_link&) = delete;

    // Connects, and reconnects after every failure until stop().
    void start(std::weak_ptr<void> keepalive);
    // Closes the connection and drops the queue; no owner call afterwards.
    void stop();

    // Appends here and flush() to send. Bytes queued while not ready wait for set_ready().
    [[nodiscard]] outbox& queue() noexcept { return queue_; }
    [[nodiscard]] const outbox& queue() const noexcept { return queue_; }
    // Starts a write of everything queued, unless one is in flight, the link is not ready or
    // the owner holds writes (may_write).
    void flush();
    // While handshaking: the protocol's setup bytes, written before anything queued. The
    // string is kept until written.
    void send_handshake(std::string bytes);
    // The protocol's handshake is done: writes may go, the backoff starts again from its
    // initial delay, and the health check starts.
    void set_ready();
    // Ends this attempt and schedules the next: `what` and `ec` are logged.
    void fail(boost::system::error_code ec, std::string_view what);
    // The probe of the health check was answered.
    void health_answered() noexcept { last_answer_ = clock::now(); }

    [[nodiscard]] bool ready() const noexcept { return state_ == state::ready; }
    [[nodiscard]] bool idle() const noexcept { return state_ == state::idle; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }
    // Changes whenever the connection is torn down: an owner that called out (a handler that
    // may stop everything) compares it to know whether its connection survived.
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
    // backoff::spread() of the last failure series: how much later than this link the links
    // of other instances that lost the same server may come back.
    [[nodiscard]] std::chrono::milliseconds retry_spread() const noexcept {
        return backoff_.spread();
    }
    // Connection attempts after a failure since construction.
    [[nodiscard]] std::uint64_t reconnects() const noexcept { return reconnects_; }
    [[nodiscard]] const link_options& options() const noexcept { return options_; }

private:
    using clock = std::chrono::steady_clock;
    enum class state { idle, connecting, handshaking, ready };

    template <class Initiation>
    void with_stream(Initiation&& initiation);
    tcp::socket& tcp_socket() noexcept { return tls_ ? tls_->next_layer() : socket_; }
    void do_resolve();
    void on_resolve(std::uint64_t generation, boost::system::error_code ec,
                    const tcp::resolver::results_type& results);
    void on_connect(std::uint64_t generation, boost::system::error_code ec);
    void on_tls_handshake(std::uint64_t generation, boost::system::error_code ec);
    void on_transport_up();
    void do_read();
    void on_read(std::uint64_t generation, boost::system::error_code ec, std::size_t size);
    void on_write(std::uint64_t generation, boost::system::error_code ec);
    void schedule_health_check();
    void tear_down();

    link_options options_;
    link_owner& owner_;
    std::weak_ptr<void> keepalive_;
    tcp::socket socket_;  // plain TCP; unused with TLS
    // TLS: a fresh stream (and socket) per attempt, as an SSL session cannot be reused after a
    // failure. The handlers of its pending operations hold a reference too, so a teardown never
    // frees it under them.
    std::shared_ptr<tls_stream> tls_;
    tcp::resolver resolver_;
    boost::asio::steady_timer timer_;  // connect deadline while connecting, backoff while idle
    boost::asio::steady_timer health_timer_;
    link::backoff backoff_;
    state state_ = state::idle;
    bool stopped_ = true;
    std::uint64_t generation_ = 0;
    std::uint64_t reconnects_ = 0;
    clock::time_point last_answer_{};
    // 64 KiB: a busy subscribe link takes about a hundred messages of a few hundred bytes per
    // read; with 16 KiB the receive syscalls were a quarter of its time and the generator's
    // CPU per received message 12-25% higher. Larger messages arrive in several reads.
    std::array<char, 64 * 1024> read_buffer_{};
    std::string partial_;  // the start of a message the last read cut off
    std::string handshake_;
    // Two outboxes trade places, so the one being written is never appended to and both keep
    // their capacity.
    outbox queue_;
    outbox writing_;
    std::vector<boost::asio::const_buffer> buffers_;
    bool write_in_flight_ = false;
};

}  // namespace switchboard::routing::link
