#include "routing/link/reconnecting_link.hpp"

#include "routing/link/tls.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace switchboard::routing::link {

namespace asio = boost::asio;
using boost::system::error_code;

reconnecting_link::reconnecting_link(asio::io_context& context, link_options options,
                                     link_owner& owner)
    : options_(std::move(options)),
      owner_(owner),
      socket_(context),
      resolver_(context),
      timer_(context),
      health_timer_(context),
      backoff_(options_.initial_backoff, options_.max_backoff) {}

// Runs an I/O initiation on the plain socket or the TLS stream. One branch per call keeps the
// plain path free of a virtual stream underneath.
template <class Initiation>
void reconnecting_link::with_stream(Initiation&& initiation) {
    if (tls_) {
        initiation(*tls_);
    } else {
        initiation(socket_);
    }
}

void reconnecting_link::start(std::weak_ptr<void> keepalive) {
    keepalive_ = std::move(keepalive);
    stopped_ = false;
    do_resolve();
}

void reconnecting_link::stop() {
    stopped_ = true;
    tear_down();
    queue_.clear();
}

void reconnecting_link::do_resolve() {
    const auto self = keepalive_.lock();
    if (!self) {
        return;
    }
    state_ = state::connecting;
    const auto generation = ++generation_;
    if (options_.tls) {
        tls_ = std::make_shared<tls_stream>(socket_.get_executor(), *options_.tls);
        prepare_client_stream(*tls_, options_.tls_server_name, options_.tls_verify);
    }
    timer_.expires_after(options_.connect_timeout);
    timer_.async_wait([this, self, generation](error_code ec) {
        if (!ec && generation == generation_ && state_ != state::ready) {
            fail(asio::error::timed_out, "connect timeout");
        }
    });
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [this, self, generation](error_code ec, const tcp::resolver::results_type& results) {
            on_resolve(generation, ec, results);
        });
}

void reconnecting_link::on_resolve(std::uint64_t generation, error_code ec,
                                   const tcp::resolver::results_type& results) {
    if (generation != generation_) {
        return;
    }
    if (ec) {
        return fail(ec, "resolve");
    }
    asio::async_connect(tcp_socket(), results,
                        [this, self = keepalive_.lock(), generation, guard = tls_](
                            error_code ec, const tcp::endpoint&) { on_connect(generation, ec); });
}

void reconnecting_link::on_connect(std::uint64_t generation, error_code ec) {
    if (generation != generation_) {
        return;
    }
    if (ec) {
        return fail(ec, "connect");
    }
    auto& socket = tcp_socket();
    // Small commands must not wait for Nagle: pipelining already batches.
    socket.set_option(tcp::no_delay(true), ec);
    // A quiet subscribe link never writes, so a peer that vanished without a reset
    // (partition, crashed host) would go unnoticed for good; TCP keepalive probes after 10 s
    // idle, every 5 s, 3 times: the link fails within ~25 s, tuned for a bus that must fail
    // over quickly.
    socket.set_option(asio::socket_base::keep_alive(true), ec);
    socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(10), ec);
    socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(5), ec);
    socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ec);
    if (!tls_) {
        return on_transport_up();
    }
    // The connect deadline still runs: a server that never finishes the handshake fails the
    // attempt like one that never answers.
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [this, self = keepalive_.lock(), generation,
                           guard = tls_](error_code ec) { on_tls_handshake(generation, ec); });
}

void reconnecting_link::on_tls_handshake(std::uint64_t generation, error_code ec) {
    if (generation != generation_) {
        return;
    }
    if (ec) {
        // Usually configuration (wrong CA, name mismatch, plain-text port): worth more than a
        // debug line.
        spdlog::error("{}: TLS handshake with {}:{} failed on the {} connection: {}",
                      options_.log_name, options_.host, options_.port, options_.role, ec.message());
        return fail(ec, "TLS handshake");
    }
    on_transport_up();
}

void reconnecting_link::on_transport_up() {
    partial_.clear();
    state_ = state::handshaking;
    do_read();
    owner_.on_transport_up(*this);
}

void reconnecting_link::send_handshake(std::string bytes) {
    handshake_ = std::move(bytes);
    write_in_flight_ = true;
    with_stream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(handshake_),
                          [this, self = keepalive_.lock(), generation = generation_, guard = tls_](
                              error_code ec, std::size_t) {
                              if (generation != generation_) {
                                  return;
                              }
                              write_in_flight_ = false;
                              if (ec) {
                                  return fail(ec, "write");
                              }
                              flush();
                          });
    });
}

void reconnecting_link::set_ready() {
    state_ = state::ready;
    backoff_.reset();
    timer_.cancel();
    spdlog::debug("{}: {} connection to {}:{} ready", options_.log_name, options_.role,
                  options_.host, options_.port);
    if (options_.health_check_interval.count() > 0) {
        last_answer_ = clock::now();
        schedule_health_check();
    }
}

void reconnecting_link::schedule_health_check() {
    health_timer_.expires_after(options_.health_check_interval);
    health_timer_.async_wait(
        [this, self = keepalive_.lock(), generation = generation_](error_code ec) {
            if (ec || stopped_ || generation != generation_) {
                return;  // the connection it watched is gone; its successor has its own
            }
            if (!owner_.may_write(*this)) {
                // Writes, probes included, are held: nothing to judge the server by.
                last_answer_ = clock::now();
                return schedule_health_check();
            }
            if (clock::now() - last_answer_ > 2 * options_.health_check_interval) {
                return fail(asio::error::timed_out, "no answer to the health check");
            }
            // Queued behind what waits (the answer then comes late but not missing); a full
            // queue skips one probe, which the next interval repeats.
            owner_.on_health_probe(*this);
            schedule_health_check();
        });
}

void reconnecting_link::flush() {
    if (write_in_flight_ || queue_.empty() || state_ != state::ready || !owner_.may_write(*this)) {
        return;
    }
    // Everything queued goes out in one write: one syscall for many commands.
    owner_.on_write(*this, queue_);
    std::swap(queue_, writing_);
    queue_.clear();
    writing_.buffers(buffers_);
    write_in_flight_ = true;
    with_stream([&](auto& stream) {
        asio::async_write(stream, buffers_,
                          [this, self = keepalive_.lock(), generation = generation_, guard = tls_](
                              error_code ec, std::size_t) { on_write(generation, ec); });
    });
}

void reconnecting_link::on_write(std::uint64_t generation, error_code ec) {
    if (generation != generation_) {
        return;
    }
    write_in_flight_ = false;
    writing_.clear_and_trim();
    if (ec) {
        return fail(ec, "write");
    }
    flush();
}

void reconnecting_link::do_read() {
    with_stream([&](auto& stream) {
        stream.async_read_some(
            asio::buffer(read_buffer_),
            [this, self = keepalive_.lock(), generation = generation_, guard = tls_](
                error_code ec, std::size_t size) { on_read(generation, ec, size); });
    });
}

void reconnecting_link::on_read(std::uint64_t generation, error_code ec, std::size_t size) {
    if (generation != generation_) {
        return;
    }
    if (ec) {
        return fail(ec, "read");
    }
    std::string_view data(read_buffer_.data(), size);
    if (!partial_.empty()) {
        partial_.append(data);
        data = partial_;
    }
    const auto used = owner_.on_data(*this, data);
    if (generation != generation_) {
        return;  // the owner failed or stopped the link
    }
    if (data.data() == partial_.data()) {
        partial_.erase(0, used);
    } else {
        partial_.assign(data.substr(used));
    }
    if (partial_.empty() && partial_.capacity() > outbox::retained_capacity) {
        std::string().swap(partial_);  // see outbox::clear_and_trim
    }
    do_read();
}

void reconnecting_link::tear_down() {
    ++generation_;
    error_code ignored;
    tcp_socket().close(ignored);
    // Its pending handlers keep the stream alive until they have seen the abort.
    tls_.reset();
    resolver_.cancel();
    timer_.cancel();
    health_timer_.cancel();
    state_ = state::idle;
    write_in_flight_ = false;
    writing_.clear();
    buffers_.clear();
}

void reconnecting_link::fail(error_code ec, std::string_view what) {
    const bool was_ready = state_ == state::ready;
    // The first failure of a series is worth a warning (a wrong host or port at startup would
    // otherwise look like a healthy server); the retries are not.
    const bool first = backoff_.fresh();
    const auto delay = backoff_.next();
    if (was_ready) {
        spdlog::warn("{}: {} connection to {}:{} lost ({}: {}); reconnecting", options_.log_name,
                     options_.role, options_.host, options_.port, what, ec.message());
    } else {
        spdlog::log(first ? spdlog::level::warn : spdlog::level::debug,
                    "{}: {} connection to {}:{} failed ({}: {}); retrying in {} ms",
                    options_.log_name, options_.role, options_.host, options_.port, what,
                    ec.message(), delay.count());
    }
    tear_down();
    owner_.on_down(*this, was_ready);
    if (stopped_) {
        return;
    }
    ++reconnects_;
    const auto generation = generation_;
    timer_.expires_after(delay);
    timer_.async_wait([this, self = keepalive_.lock(), generation](error_code ec) {
        if (!ec && generation == generation_ && !stopped_) {
            do_resolve();
        }
    });
}

}  // namespace switchboard::routing::link
