// Builds the scale-out bus named by --backplane: a registry of the buses compiled in, each
// recognising its own forms (a URL scheme or a connection-string shape).
#pragma once

#include "events/history_store.hpp"
#include "presence/presence_store.hpp"
#include "routing/backplane.hpp"
#include "routing/durable_log.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing {

// What every bus is built with, whichever it is.
struct backplane_settings {
    // The router's control shard: the bus and its connections live there (router.hpp).
    boost::asio::io_context* control = nullptr;
    // Bytes of publications a bus may buffer while its server is unreachable
    // (--backplane-buffer-size); beyond it publications are dropped and counted.
    std::size_t max_buffered_bytes = 0;
    // The schema a database bus keeps its tables in (--postgres-schema); "signalr", as the
    // ASP.NET Npgsql backplane deployments this replaces configure it.
    std::string database_schema = "signalr";
    // Durable mode (--durable-window): a bus that can keep every publication in one ordered
    // log for this long (made_backplane::log); 0 is the plain pub/sub bus.
    std::chrono::milliseconds durable_window{0};
    // Entries the log keeps at most, whatever their age (--durable-max-entries).
    std::size_t durable_max_entries = 0;
    // Bytes of publications the log keeps at most (--durable-max-bytes); 0: no bound.
    std::size_t durable_max_bytes = 0;
    // router_options::server_name: a log names each entry's publisher with it.
    std::string server_name{};
};

// A bus built from a spec, with what the composition root applies around it.
struct made_backplane {
    std::unique_ptr<backplane> bus;
    // Glued onto every channel name by the router (router_options::channel_prefix): ASP.NET
    // reads it from the bus's own configuration (StackExchange.Redis ChannelPrefix).
    std::string channel_prefix;
    // Worth a warning, not an error: ignored keys, unused endpoints. Free of secrets.
    std::vector<std::string> notes;
    // Builds the cluster-wide event history on the same server (Redis Streams), on the control
    // shard; empty when the bus keeps none: event histories then stay per instance.
    std::function<std::unique_ptr<events::history_store>(events::history_store_options)>
        make_event_history;
    // Builds the presence store on the same server, on the control shard; empty when the bus
    // has none shared by its instances (the composition root then keeps presence per instance).
    std::function<std::unique_ptr<presence::store>(presence::store_options)> make_presence;
    // Durable mode: the bus's log (it lives inside `bus`); null when the bus keeps none or
    // durable_window was 0.
    durable_log* log = nullptr;
};

// One bus as the registry sees it. The functions run at startup only, so they may throw.
struct backplane_kind {
    std::string name;   // "redis"
    std::string forms;  // the accepted forms, for error messages and --help
    // Whether the spec is this bus's to build (its scheme or shape), not whether it is valid:
    // a spec it accepts but cannot use fails in make() with the reason.
    std::function<bool(std::string_view spec)> accepts;
    // Throws std::invalid_argument with a message that names no secret.
    std::function<made_backplane(std::string_view spec, const backplane_settings& settings)> make;
    // The spec with its secrets replaced, for logs; null: the spec holds none.
    std::function<std::string(std::string_view spec)> redact;
};

// Thread safety: filled once at startup, then read-only.
class backplane_factory {
public:
    // Asked in the order added: a bus with a catch-all shape (Redis's "host:port,...") goes
    // after the buses with a fixed word or scheme.
    void add(backplane_kind kind);

    // Throws std::runtime_error starting with "--backplane: ", with the bus's reason, or for a
    // spec no bus accepts, with every accepted form.
    [[nodiscard]] made_backplane make(std::string_view spec,
                                      const backplane_settings& settings) const;
    // For logs: the accepting bus's redaction; a spec no bus accepts is shown as its scheme
    // only, since its shape says nothing about where a password might be.
    [[nodiscard]] std::string redact(std::string_view spec) const;
    // The name of the bus that takes `spec` ("redis"), or empty: for reports.
    [[nodiscard]] std::string name_of(std::string_view spec) const;
    // "memory; redis://host:port, ... (redis)": what --help and the errors list.
    [[nodiscard]] std::string describe() const;

private:
    [[nodiscard]] const backplane_kind* find(std::string_view spec) const;

    std::vector<backplane_kind> kinds_;
};

}  // namespace switchboard::routing
