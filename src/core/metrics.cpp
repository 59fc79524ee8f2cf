#include "core/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace switchboard {

std::uint64_t counter::value() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& cell : stripes_) {
        sum += cell.value.load(std::memory_order_relaxed);
    }
    return sum;
}

std::size_t counter::stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % stripes;
    return mine;
}

std::string_view label_value(metric_transport transport) {
    switch (transport) {
    case metric_transport::websockets:
        return "websockets";
    case metric_transport::server_sent_events:
        return "server_sent_events";
    case metric_transport::long_polling:
        return "long_polling";
    case metric_transport::count:
        break;
    }
    return "unknown";
}

std::string_view label_value(metric_limit limit) {
    switch (limit) {
    case metric_limit::connections:
        return "connections";
    case metric_limit::connections_per_ip:
        return "connections_per_ip";
    case metric_limit::connections_per_user:
        return "connections_per_user";
    case metric_limit::negotiate_rate_per_ip:
        return "negotiate_rate_per_ip";
    case metric_limit::messages_per_second:
        return "messages_per_second";
    case metric_limit::groups_per_connection:
        return "groups_per_connection";
    case metric_limit::count:
        break;
    }
    return "unknown";
}

std::string_view label_value(metric_protocol protocol) {
    switch (protocol) {
    case metric_protocol::json:
        return "json";
    case metric_protocol::messagepack:
        return "messagepack";
    case metric_protocol::count:
        break;
    }
    return "unknown";
}

std::string_view label_value(metric_message_kind kind) {
    static constexpr std::array<std::string_view,
                                static_cast<std::size_t>(metric_message_kind::count)>
        names{"invocation",
              "stream_invocation",
              "stream_item",
              "completion",
              "cancel_invocation",
              "ping",
              "close",
              "ack",
              "sequence",
              "other"};
    const auto index = static_cast<std::size_t>(kind);
    return index < names.size() ? names[index] : "unknown";
}

std::string_view label_value(metric_hub_error place) {
    switch (place) {
    case metric_hub_error::method:
        return "method";
    case metric_hub_error::connected:
        return "connected";
    case metric_hub_error::disconnected:
        return "disconnected";
    case metric_hub_error::stream:
        return "stream";
    case metric_hub_error::upload:
        return "upload";
    case metric_hub_error::client_result:
        return "client_result";
    case metric_hub_error::callback:
        return "callback";
    case metric_hub_error::count:
        break;
    }
    return "unknown";
}

namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <class Value>
void sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view label_value, Value value) {
    out.append(name);
    if (!label.empty()) {
        // Label values here are fixed identifiers: nothing to escape.
        out.append("{").append(label).append("=\"").append(label_value).append("\"}");
    }
    out.append(" ").append(std::to_string(value)).append("\n");
}

template <class Value>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            Value value) {
    family(out, name, type, help);
    sample(out, name, {}, {}, value);
}

template <class Enum, class Series, class Read>
void by_label(std::string& out, std::string_view name, std::string_view type, std::string_view help,
              std::string_view label, const Series& series, Read read) {
    family(out, name, type, help);
    for (std::size_t i = 0; i < series.size(); ++i) {
        sample(out, name, label, label_value(static_cast<Enum>(i)), read(series[i]));
    }
}

// The process collector's standard series (as Prometheus client libraries name them), read from
// /proc at scrape time: memory and descriptors are what run out first on a busy instance.
void render_process(std::string& out) {
    std::uint64_t resident_pages = 0;
    if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
        unsigned long long size = 0;
        unsigned long long resident = 0;
        if (std::fscanf(statm, "%llu %llu", &size, &resident) == 2) {
            resident_pages = resident;
        }
        std::fclose(statm);
    }
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    single(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           resident_pages * page);
    std::uint64_t open = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++open;
    }
    single(out, "process_open_fds", "gauge", "Number of open file descriptors.", open);
    rlimit limit{};
    std::uint64_t max = 0;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        max = static_cast<std::uint64_t>(limit.rlim_cur);
    }
    single(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
}

}  // namespace

void metrics::render(std::string& out) const {
    const auto gauge_value = [](const gauge& g) { return g.value(); };
    const auto counter_value = [](const counter& c) { return c.value(); };
    by_label<metric_transport>(out, "switchboard_connections", "gauge",
                               "Open client connections, by transport.", "transport", connections,
                               gauge_value);
    by_label<metric_transport>(out, "switchboard_connections_opened_total", "counter",
                               "Client connections opened since start, by transport.", "transport",
                               connections_opened, counter_value);
    by_label<metric_protocol>(out, "switchboard_hub_connections", "gauge",
                              "Connections past their hub handshake, by hub protocol.", "protocol",
                              hub_connections, gauge_value);
    single(out, "switchboard_messages_received_total", "counter",
           "Hub messages received from clients (pings included).", messages_received.value());
    by_label<metric_message_kind>(out, "switchboard_messages_received_by_kind_total", "counter",
                                  "Hub messages received from clients, by message type.", "kind",
                                  received_by_kind, counter_value);
    single(out, "switchboard_deliveries_total", "counter",
           "Routed messages queued for a connection (one per recipient).", deliveries.value());
    single(out, "switchboard_messages_sent_total", "counter",
           "Hub messages queued for clients (pings included).", messages_sent.value());
    single(out, "switchboard_bytes_sent_total", "counter",
           "Bytes of hub messages handed to client transports.", bytes_sent.value());
    by_label<metric_limit>(out, "switchboard_limit_rejections_total", "counter",
                           "Requests, connections or messages refused by a configured limit.",
                           "limit", limit_rejections, counter_value);
    single(out, "switchboard_slow_consumer_disconnects_total", "counter",
           "Connections dropped because their send queue overflowed.",
           slow_consumer_disconnects.value());
    by_label<metric_hub_error>(out, "switchboard_hub_errors_total", "counter",
                               "Exceptions thrown by hub code and contained, by where it ran.",
                               "place", hub_errors, counter_value);
    single(out, "switchboard_events_published_total", "counter",
           "Events published through this instance.", events_published.value());
    single(out, "switchboard_events_delivered_total", "counter",
           "Events queued for event stream subscribers.", events_delivered.value());
    single(out, "switchboard_events_dropped_total", "counter",
           "Event stream subscribers disconnected because their queue overflowed.",
           events_dropped.value());
    single(out, "switchboard_events_resumed_total", "counter",
           "Event stream channels resumed from history after Last-Event-ID.",
           events_resumed.value());
    single(out, "switchboard_events_reset_total", "counter",
           "Reset events sent because history did not reach back to Last-Event-ID.",
           events_reset.value());
    single(out, "switchboard_events_subscribers", "gauge", "Open event stream subscribers.",
           events_subscribers.value());
    single(out, "switchboard_rest_requests_total", "counter",
           "REST API operations executed (authenticated, valid).", rest_requests.value());
    single(out, "switchboard_rest_refused_total", "counter",
           "REST API requests refused before execution (401, 400, 404, 405).",
           rest_refused.value());
    single(out, "switchboard_backplane_publish_drops_total", "counter",
           "Backplane publications dropped because the outage buffer was full.",
           backplane_drops ? backplane_drops() : std::uint64_t{0});
    single(out, "switchboard_backplane_rejected_messages_total", "counter",
           "Messages from the backplane dropped as malformed, foreign or unfetchable.",
           backplane_rejected ? backplane_rejected() : std::uint64_t{0});
    single(out, "switchboard_backplane_published_total", "counter",
           "Publications handed to the backplane.",
           backplane_published ? backplane_published() : std::uint64_t{0});
    single(out, "switchboard_backplane_received_total", "counter",
           "Messages the backplane delivered from other instances.",
           backplane_received ? backplane_received() : std::uint64_t{0});
    single(out, "switchboard_backplane_connected", "gauge",
           "1 while the backplane is connected (0: publications are buffered, /readyz is 503).",
           std::uint64_t{!backplane_connected || backplane_connected() ? 1U : 0U});
    single(out, "switchboard_backplane_buffered_bytes", "gauge",
           "Bytes of publications waiting for the backplane (sampled every second).",
           backplane_buffered_bytes.value());
    single(out, "switchboard_backplane_reconnects_total", "counter",
           "Times the backplane came back after it had been connected.",
           backplane_reconnects ? backplane_reconnects() : std::uint64_t{0});
    single(out, "switchboard_presence_online_total", "counter",
           "Users this instance reported online (a first connection anywhere).",
           presence_online.value());
    single(out, "switchboard_presence_offline_total", "counter",
           "Users this instance reported offline (a last connection anywhere, or reaped).",
           presence_offline.value());
    if (presence_connected) {
        single(out, "switchboard_presence_connected", "gauge",
               "1 while the presence store is reachable.",
               std::uint64_t{presence_connected() ? 1U : 0U});
    }
    render_process(out);
}

}  // namespace switchboard
