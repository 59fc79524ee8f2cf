// Process metrics: counters and gauges as relaxed atomics, rendered in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace switchboard {

// A monotonic count. Shards add to their own cache line (every message on every shard counts
// here), so increments never contend; reading sums the stripes, which only /metrics does.
class counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        stripes_[stripe()].value.fetch_add(n, std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t value() const noexcept;

private:
    static constexpr std::size_t stripes = 16;
    struct alignas(64) cell {
        std::atomic<std::uint64_t> value{0};
    };
    // Each thread picks a stripe once; shard threads, being few, each get their own.
    static std::size_t stripe() noexcept;

    std::array<cell, stripes> stripes_{};
};

// A level that goes up and down (open connections); changed at connect and disconnect only.
class gauge {
public:
    void add(std::int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    void sub(std::int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
    void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
    [[nodiscard]] std::int64_t value() const noexcept {
        return value_.load(std::memory_order_relaxed);
    }

private:
    alignas(64) std::atomic<std::int64_t> value_{0};
};

// Values of the `transport` label; the order of transport::transport_kind minus none.
enum class metric_transport : std::uint8_t { websockets, server_sent_events, long_polling, count };
// Values of the `limit` label of switchboard_limit_rejections_total.
enum class metric_limit : std::uint8_t {
    connections,
    connections_per_ip,
    connections_per_user,
    negotiate_rate_per_ip,
    messages_per_second,
    groups_per_connection,
    count,
};

// Values of the `place` label of switchboard_hub_errors_total: where hub code threw.
enum class metric_hub_error : std::uint8_t {
    method,         // a hub method
    connected,      // on_connected
    disconnected,   // on_disconnected
    stream,         // a server-to-client stream's cancel handler
    upload,         // an upload stream's item or end handler
    client_result,  // the callback of a client result (invoke_client)
    callback,       // any other callback: group changes
    count,
};

// Values of the `protocol` label of switchboard_hub_connections.
enum class metric_protocol : std::uint8_t { json, messagepack, count };

// Values of the `kind` label of switchboard_messages_received_by_kind_total: the hub protocol's
// message types in its numbering (protocol/hub_message.hpp), then anything else.
enum class metric_message_kind : std::uint8_t {
    invocation,
    stream_invocation,
    stream_item,
    completion,
    cancel_invocation,
    ping,
    close,
    ack,
    sequence,
    other,
    count,
};

std::string_view label_value(metric_protocol protocol);
std::string_view label_value(metric_message_kind kind);
std::string_view label_value(metric_transport transport);
std::string_view label_value(metric_limit limit);
std::string_view label_value(metric_hub_error place);

// Every series the server exports. A fixed set of members rather than registration by name:
// nothing to look up or lock on the hot path, and the exposition is complete from startup.
struct metrics {
    std::array<gauge, static_cast<std::size_t>(metric_transport::count)> connections;
    std::array<counter, static_cast<std::size_t>(metric_transport::count)> connections_opened;
    // Connections past their handshake, by hub protocol (the transport gauge counts sockets).
    std::array<gauge, static_cast<std::size_t>(metric_protocol::count)> hub_connections;
    counter messages_received;
    std::array<counter, static_cast<std::size_t>(metric_message_kind::count)> received_by_kind;
    counter messages_sent;
    // Messages routed to a connection (a broadcast to 1,000 is 1,000 deliveries).
    counter deliveries;
    counter bytes_sent;
    std::array<counter, static_cast<std::size_t>(metric_limit::count)> limit_rejections;
    counter slow_consumer_disconnects;
    std::array<counter, static_cast<std::size_t>(metric_hub_error::count)> hub_errors;
    // Event streams (docs/events.md): events published here (REST, embedded API), events
    // queued for subscribers, subscribers dropped as too slow, resumes served from history,
    // resets sent because history did not reach back, open subscriber streams.
    counter events_published;
    counter events_delivered;
    counter events_dropped;
    counter events_resumed;
    counter events_reset;
    gauge events_subscribers;
    // The REST API (docs/rest-api.md): operations executed, and requests refused before that
    // (401 and the other 4xx answers).
    counter rest_requests;
    counter rest_refused;
    // Publications the backplane could not buffer while the bus was unreachable. The backplane
    // keeps that count itself; set before the shards start, read by render() only.
    std::function<std::uint64_t()> backplane_drops;
    // Messages from the bus dropped as not ours or broken (the bus's and the router's counts).
    std::function<std::uint64_t()> backplane_rejected;
    // Publications handed to the bus and messages it delivered here, since start.
    std::function<std::uint64_t()> backplane_published;
    std::function<std::uint64_t()> backplane_received;
    // Whether the bus is connected now (what /readyz also answers); unset: no bus, reported as 1.
    std::function<bool()> backplane_connected;
    std::function<std::uint64_t()> backplane_reconnects;
    // The bus's buffered bytes, sampled on its shard once a second (the sweep).
    gauge backplane_buffered_bytes;
    // Presence (docs/presence.md): users reported online and offline by this instance, and
    // whether its store is reachable; unset: presence is off, and the gauge is left out.
    counter presence_online;
    counter presence_offline;
    std::function<bool()> presence_connected;

    gauge& connections_of(metric_transport transport) {
        return connections[static_cast<std::size_t>(transport)];
    }
    counter& opened_of(metric_transport transport) {
        return connections_opened[static_cast<std::size_t>(transport)];
    }
    counter& rejections_of(metric_limit limit) {
        return limit_rejections[static_cast<std::size_t>(limit)];
    }
    gauge& hub_connections_of(metric_protocol protocol) {
        return hub_connections[static_cast<std::size_t>(protocol)];
    }
    counter& received_of(metric_message_kind kind) {
        return received_by_kind[static_cast<std::size_t>(kind)];
    }
    counter& hub_errors_of(metric_hub_error place) {
        return hub_errors[static_cast<std::size_t>(place)];
    }

    // Appends the Prometheus text exposition format (version 0.0.4) of every series.
    void render(std::string& out) const;
};

// The Content-Type of render()'s output.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace switchboard
