// One running Switchboard instance: the composition root that wires shards, HTTP server,
// backplane, router, hubs and transport endpoints together.
#pragma once

#include "core/metrics.hpp"
#include "events/registry.hpp"
#include "http/server.hpp"
#include "hub/hub.hpp"
#include "hub/hub_server.hpp"
#include "presence/presence_store.hpp"
#include "server/server_options.hpp"
#include "transport/endpoint.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>

namespace switchboard {

class instance {
public:
    // Throws std::runtime_error with a readable message for invalid settings.
    explicit instance(server_options options);
    ~instance();
    instance(const instance&) = delete;
    instance& operator=(const instance&) = delete;

    // Before start(): serves a hub at `path` (negotiate, every enabled transport).
    routing::hub_id add_hub(const std::string& path,
                            std::shared_ptr<const hub::hub_definition> definition,
                            transport::endpoint_options settings = {});
    // Before start(): a hub endpoint the caller routes itself (e.g. to decorate responses).
    std::shared_ptr<transport::endpoint> make_hub_endpoint(
        std::shared_ptr<const hub::hub_definition> definition,
        transport::endpoint_options settings = {});
    // Before start(): a raw connection at `path` (transports without the hub protocol);
    // `factory` builds the application that consumes each connection's bytes.
    void add_connection_handler(const std::string& path, transport::application_factory factory,
                                transport::endpoint_options settings = {});
    // Before start(): any other HTTP handler under a path prefix.
    void add_route(const std::string& prefix, http::prefix_handler handler);

    [[nodiscard]] const server_options& options() const;
    routing::router& router();
    // The cluster-wide presence store beside the backplane; null while none is configured.
    [[nodiscard]] presence::store* presence() const;
    hub::hub_server& hubs();
    // Event streams: publish(channel, type, data) from any thread (docs/events.md).
    events::registry& events();

    // Binds the listener and starts the shard threads; returns the bound endpoint.
    boost::asio::ip::tcp::endpoint start();
    // Starts, prints `switchboard listening on http://HOST:PORT` (https with TLS; tests and scripts
    // wait for that line), calls `on_listening` with the base URL, serves until SIGINT or SIGTERM,
    // then drains and stops. Signals are caught before the port is printed, so an early SIGTERM
    // still drains.
    void run_until_signal(const std::function<void(const std::string& base_url)>& on_listening);
    // Graceful shutdown: stop accepting, report not ready, Close (allowReconnect) to every
    // client, wait up to the drain timeout for them to leave, then stop the shards.
    void drain_and_stop();
    // Forgets negotiated tokens that were never used; call about once a second.
    void sweep();

    [[nodiscard]] std::size_t connection_count() const;
    // The server's counters, as GET /metrics exports them.
    [[nodiscard]] const switchboard::metrics& metrics() const;

private:
    struct parts;
    std::unique_ptr<parts> parts_;
};

// Parses "host:port" (IPv6 as "[::1]:port"); throws std::runtime_error when malformed.
boost::asio::ip::tcp::endpoint parse_listen_address(const std::string& text);

}  // namespace switchboard
