// One hub's HTTP surface (ASP.NET's HttpConnectionDispatcher): negotiate, and the connect,
// send and delete requests of the transports, with the status codes the clients expect.
#pragma once

#include "core/config.hpp"
#include "core/expected.hpp"
#include "core/shard_pool.hpp"
#include "http/authenticate.hpp"
#include "http/server.hpp"
#include "transport/admission.hpp"
#include "transport/connection.hpp"
#include "transport/connection_manager.hpp"
#include "transport/long_polling.hpp"
#include "transport/negotiate.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::transport {

// Creates the application (hub connection) for a new transport connection; called on the
// connection's shard.
using application_factory =
    std::function<std::shared_ptr<connection_application>(const connection_ptr&)>;

struct endpoint_options {
    unsigned transports = all_transports;
    // Copies the connect request's headers into request_info (hubs that read headers).
    bool keep_request_headers = false;
    // When set, it runs on every request (negotiate, connect, poll, send, delete): those it
    // refuses get 401 with an empty body (the JS client then reports "Unauthorized: Status code
    // '401'"); the identity is stored in the connection's request_info, and a request for a
    // connection negotiated by another user gets 403. Unset: development mode, no identity.
    http::authenticate_hook authenticate;
    // When set, runs after authentication on every request; a refused caller gets 403, or 401
    // when it has no identity (the hub's policy, e.g. roles, checked before it gets anywhere).
    std::function<bool(const identity* who)> authorize;
    // Offer stateful reconnect to clients that ask for it (WebSockets only); the client must
    // opt in too (withStatefulReconnect), so offering costs nothing to the others.
    bool allow_stateful_reconnect = true;
    long_polling_options long_polling;
    // Connection limits and the negotiate rate (shared by every endpoint of a server); null:
    // no limits. Refusals get their status (429 or 503) and a text body naming the limit.
    admission_control* admission = nullptr;
    // Connection and message counters of the server; null: not counted.
    switchboard::metrics* metrics = nullptr;
    // Sent as X-Switchboard-Instance on negotiate responses, so an app behind a load balancer
    // can show which instance serves it; empty (the default name, which holds the hostname):
    // no header.
    std::string instance_name;
    // Durable mode: asked for a stateful reconnect whose token this instance does not know
    // (its instance died or drained). `done` (any thread) gets the connection id and the state
    // to continue from, or the HTTP status to refuse with (404 unknown or lost, 403 another
    // user's). `user`: as the hub sees it. Unset: such a request gets 404.
    struct adopted_connection {
        std::string connection_id;
        std::shared_ptr<const void> state;
        unsigned refusal = 404;  // when state is null
    };
    std::function<void(std::string token, std::string user,
                       std::function<void(adopted_connection)> done)>
        adopt;
    // Durable mode: asked before a paused stateful connection resumes here, since another
    // instance may have taken it over meanwhile. `done(false)` (any thread) after the paused
    // copy was told to end on its shard: the request goes to `adopt`. Unset: it resumes.
    std::function<void(std::string connection_id, std::function<void(bool resumable)> done)>
        confirm_resume;
};

class endpoint {
public:
    endpoint(shard_pool& shards, connection_manager& connections, const hub_options& options,
             endpoint_options endpoint_settings, application_factory factory);

    // Entry point for every request under the hub path; `subpath` is "" or "/negotiate".
    void handle(http::request& req, std::string_view subpath, std::shared_ptr<http::exchange> ex);

private:
    // `who`: the authenticated sender, null without an authenticate hook.
    void handle_negotiate(http::request& req, http::exchange& ex, const identity* who);
    void handle_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                          const identity* who);
    void handle_sse(http::request& req, const std::shared_ptr<http::exchange>& ex,
                    const std::string& token, const identity* who);
    void handle_poll(http::request& req, const std::shared_ptr<http::exchange>& ex,
                     const std::string& token, const identity* who);
    void handle_send(http::request& req, const std::shared_ptr<http::exchange>& ex,
                     const std::string& token, const identity* who);
    void handle_delete(http::request& req, const std::shared_ptr<http::exchange>& ex,
                       const std::string& token, const identity* who);
    connection_ptr create_connection(http::request& req, http::exchange& ex, transport_kind kind,
                                     std::string connection_id, std::string token,
                                     const identity* who, bool stateful = false,
                                     std::shared_ptr<const void> adopted = nullptr);
    void resume_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                          const std::weak_ptr<connection>& target);
    // Durable mode: resume_websocket once confirm_resume agrees; else the paused copy has
    // ended, and the request goes on as a takeover (adopt_websocket).
    void confirm_then_resume(http::request& req, const std::shared_ptr<http::exchange>& ex,
                             std::string token, std::string connection_id,
                             std::weak_ptr<connection> target, const identity* who);
    // Durable mode: takes over a stateful connection another instance held, or refuses.
    void adopt_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                         std::string token, const identity* who);
    bool enabled(transport_kind kind) const;
    // Answers 404 (unknown) or 403 (negotiated by another user than `who`) and returns false
    // unless `token` names a connection `who` may use.
    bool resolve(http::request& req, http::exchange& ex, const std::string& token,
                 const identity* who, connection_manager::located& out);
    // Takes a place for a new connection, or answers the refusal and returns false.
    bool admit(http::request& req, http::exchange& ex, const identity* who,
               connection_lease& lease);

    shard_pool& shards_;
    connection_manager& connections_;
    const hub_options& options_;
    endpoint_options settings_;
    application_factory factory_;
};

}  // namespace switchboard::transport
