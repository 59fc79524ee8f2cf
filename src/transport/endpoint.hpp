// One hub's HTTP surface (ASP.NET's HttpConnectionDispatcher): negotiate, and the connect,
// send and delete requests of the transports, with the status codes the clients expect.
#pragma once

#include "core/config.hpp"
#include "core/shard_pool.hpp"
#include "http/server.hpp"
#include "transport/connection.hpp"
#include "transport/connection_manager.hpp"

#include <functional>
#include <memory>
#include <string_view>

namespace switchboard::transport {

// Creates the application (hub connection) for a new transport connection; called on the
// connection's shard. `on_closed` is released when the connection ends.
using application_factory =
    std::function<std::shared_ptr<connection_application>(const connection_ptr&)>;

class endpoint {
public:
    endpoint(connection_manager& connections, const hub_options& options,
             application_factory factory);

    // Entry point for every request under the hub path; `subpath` is "" or "/negotiate".
    void handle(http::request& req, std::string_view subpath, std::shared_ptr<http::exchange> ex);

private:
    void handle_negotiate(http::request& req, http::exchange& ex);
    void handle_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex);
    void handle_other_transport(http::request& req, http::exchange& ex);
    void start_connection(http::request& req, const std::shared_ptr<http::exchange>& ex,
                          std::string connection_id, std::string token);

    connection_manager& connections_;
    const hub_options& options_;
    application_factory factory_;
};

// The negotiate response body for a version (0 or 1) and issued identifiers (exposed for tests).
std::string make_negotiate_response(int negotiate_version, std::string_view connection_id,
                                    std::string_view token);

}  // namespace switchboard::transport
