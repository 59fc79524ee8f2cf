#include "transport/endpoint.hpp"

#include "transport/sse_session.hpp"
#include "transport/websocket_session.hpp"

#include <openssl/ssl.h>
#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <unistd.h>

#include <charconv>
#include <optional>
#include <sstream>

namespace switchboard::transport {

namespace bhttp = boost::beast::http;

namespace {

std::optional<std::string> find_param(const query_parameters& query, std::string_view name) {
    if (const auto* value = find_parameter(query, name)) {
        return *value;
    }
    return std::nullopt;
}

http::response json_response(const http::request& req, std::string body) {
    http::response res{bhttp::status::ok, req.version()};
    res.set(bhttp::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// 401 and 403 carry no body, as ASP.NET's; the clients build their message from the status.
http::response empty_response(const http::request& req, bhttp::status status) {
    http::response res{status, req.version()};
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// Whether `who` may use a connection negotiated by `owner` (anyone may without authentication).
bool owns(const identity* who, const std::string& owner) {
    return who == nullptr || who->user_id == owner;
}

const std::string* user_of(const identity* who) {
    return who == nullptr ? nullptr : &who->user_id;
}

http::response claim_failure(const http::request& req, connection_manager::claim_status status) {
    switch (status) {
    case connection_manager::claim_status::forbidden:
        return empty_response(req, bhttp::status::forbidden);
    case connection_manager::claim_status::wrong_transport:
        return http::make_text_response(req, bhttp::status::bad_request,
                                        "Cannot change transports mid-connection");
    case connection_manager::claim_status::in_use:
        return http::make_text_response(req, bhttp::status::conflict, "Connection already in use");
    default:
        return http::make_text_response(req, bhttp::status::not_found,
                                        "No Connection with that ID");
    }
}

metric_transport metric_of(transport_kind kind) {
    switch (kind) {
    case transport_kind::server_sent_events:
        return metric_transport::server_sent_events;
    case transport_kind::long_polling:
        return metric_transport::long_polling;
    default:
        return metric_transport::websockets;
    }
}

http::response make_no_content(const http::exchange& ex) {
    http::response res{bhttp::status::no_content, ex.version()};
    res.set(bhttp::field::content_type, "text/plain");
    res.keep_alive(ex.keep_alive());
    return res;
}

}  // namespace

endpoint::endpoint(shard_pool& shards, connection_manager& connections, const hub_options& options,
                   endpoint_options endpoint_settings, application_factory factory)
    : shards_(shards),
      connections_(connections),
      options_(options),
      settings_(std::move(endpoint_settings)),
      factory_(std::move(factory)) {}

bool endpoint::enabled(transport_kind kind) const {
    switch (kind) {
    case transport_kind::websockets:
        return (settings_.transports & websockets_transport) != 0;
    case transport_kind::server_sent_events:
        return (settings_.transports & server_sent_events_transport) != 0;
    case transport_kind::long_polling:
        return (settings_.transports & long_polling_transport_bit) != 0;
    case transport_kind::none:
        break;
    }
    return false;
}

void endpoint::handle(http::request& req, std::string_view subpath,
                      std::shared_ptr<http::exchange> ex) {
    std::optional<identity> authenticated;
    if (settings_.authenticate) {
        auto result = settings_.authenticate(req);
        if (!result) {
            // Not the target: it may hold the token (access_token).
            spdlog::debug("401 for {} {}: {}", std::string_view(req.method_string()),
                          ex->remote_address(), result.error_message());
            return ex->respond(empty_response(req, bhttp::status::unauthorized));
        }
        authenticated = std::move(*result);
    }
    const identity* who = authenticated ? &*authenticated : nullptr;
    if (settings_.authorize && !settings_.authorize(who)) {
        // ASP.NET's answers: 401 asks for credentials, 403 says these do not qualify.
        return ex->respond(
            empty_response(req, who ? bhttp::status::forbidden : bhttp::status::unauthorized));
    }
    if (subpath == "/negotiate") {
        if (req.method() != bhttp::verb::post) {
            return ex->respond(http::make_text_response(req, bhttp::status::method_not_allowed,
                                                        "Method Not Allowed"));
        }
        return handle_negotiate(req, *ex, who);
    }
    if (!subpath.empty() && subpath != "/") {
        return ex->respond(http::make_text_response(req, bhttp::status::not_found, "Not Found"));
    }
    const auto method = req.method();
    if (method == bhttp::verb::get && boost::beast::websocket::is_upgrade(req)) {
        if (auto refusal = refuse_websocket_upgrade(req)) {
            return ex->respond(std::move(*refusal));
        }
        return handle_websocket(req, ex, who);  // may come without id (skipNegotiation)
    }
    if (method != bhttp::verb::get && method != bhttp::verb::post &&
        method != bhttp::verb::delete_) {
        return ex->respond(
            http::make_text_response(req, bhttp::status::method_not_allowed, "Method Not Allowed"));
    }
    const auto token = find_param(parse_query(req.target()), "id");
    if (!token || token->empty()) {
        return ex->respond(
            http::make_text_response(req, bhttp::status::bad_request, "Connection ID required"));
    }
    if (method == bhttp::verb::post) {
        return handle_send(req, ex, *token, who);
    }
    if (method == bhttp::verb::delete_) {
        return handle_delete(req, ex, *token, who);
    }
    if (req[bhttp::field::accept] == "text/event-stream") {
        return handle_sse(req, ex, *token, who);
    }
    handle_poll(req, ex, *token, who);
}

void endpoint::handle_negotiate(http::request& req, http::exchange& ex, const identity* who) {
    const auto requested = parse_negotiate_request(parse_query(req.target()));
    if (!requested) {
        return ex.respond(json_response(
            req, "{\"error\":" +
                     boost::json::serialize(boost::json::string(requested.error_message())) + "}"));
    }
    const int version = requested->version;
    const bool stateful = settings_.allow_stateful_reconnect && requested->stateful_reconnect;
    connection_lease lease;
    if (!admit(req, ex, who, lease)) {
        return;
    }
    const auto issued = connections_.issue(
        version, stateful, who != nullptr ? who->user_id : std::string(), std::move(lease));
    auto res =
        json_response(req, make_negotiate_response(version, issued.connection_id, issued.token,
                                                   settings_.transports, stateful));
    if (!settings_.instance_name.empty()) {
        res.set("X-Switchboard-Instance", settings_.instance_name);
    }
    ex.respond(std::move(res));
}

bool endpoint::admit(http::request& req, http::exchange& ex, const identity* who,
                     connection_lease& lease) {
    if (settings_.admission == nullptr) {
        return true;
    }
    // As the hub sees it: the authenticated user, or in development mode the `user` parameter.
    std::string user;
    if (who != nullptr) {
        user = who->user_id;
    } else if (const auto query_user = find_param(parse_query(req.target()), "user")) {
        user = *query_user;
    }
    auto admitted = settings_.admission->admit(ex.remote_address(), user);
    if (admitted.refused == refusal::none) {
        lease = std::move(admitted.lease);
        return true;
    }
    const auto reason = refusal_message(admitted.refused, settings_.admission->options());
    spdlog::debug("{} from {}: {}", refusal_status(admitted.refused), ex.remote_address(), reason);
    auto res = http::make_text_response(
        req, static_cast<bhttp::status>(refusal_status(admitted.refused)), reason);
    // A second is when a rate limit has a token again; for counts it is a polite hint only.
    res.set(bhttp::field::retry_after, "1");
    ex.respond(std::move(res));
    return false;
}

connection_ptr endpoint::create_connection(http::request& req, http::exchange& ex,
                                           transport_kind kind, std::string connection_id,
                                           std::string token, const identity* who, bool stateful,
                                           std::shared_ptr<const void> adopted) {
    request_info info{parse_query(req.target()), ex.remote_address(), {}, {}};
    if (who != nullptr) {
        info.identity = *who;
    }
    if (settings_.keep_request_headers) {
        for (const auto& field : req) {
            info.headers.emplace_back(field.name_string(), field.value());
        }
    }
    auto conn = std::make_shared<connection>(std::move(connection_id), std::move(token), ex.shard(),
                                             kind, options_.send_queue_limit, std::move(info));
    connections_.attach(conn->token(), conn);
    conn->set_stateful(stateful && kind == transport_kind::websockets);
    auto* counters = settings_.metrics;
    conn->set_metrics(counters);
    if (counters != nullptr) {
        counters->opened_of(metric_of(kind)).add();
        counters->connections_of(metric_of(kind)).add();
    }
    conn->set_adopted(std::move(adopted));
    conn->set_on_ended([this, counters, kind, token = conn->token()] {
        if (counters != nullptr) {
            counters->connections_of(metric_of(kind)).sub();
        }
        connections_.remove(token);
    });
    conn->set_application(factory_(conn));
    return conn;
}

namespace {
std::string_view not_supported_message(transport_kind kind) {
    switch (kind) {
    case transport_kind::websockets:
        return "WebSockets transport not supported by this end point type";
    case transport_kind::server_sent_events:
        return "ServerSentEvents transport not supported by this end point type";
    default:
        return "LongPolling transport not supported by this end point type";
    }
}
}  // namespace

void endpoint::handle_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                                const identity* who) {
    if (!enabled(transport_kind::websockets)) {
        return ex->respond(http::make_text_response(
            req, bhttp::status::not_found,
            std::string(not_supported_message(transport_kind::websockets))));
    }
    const auto token = find_param(parse_query(req.target()), "id");
    std::string connection_id;
    std::string connection_token;
    bool stateful = false;
    if (!token || token->empty()) {
        // skipNegotiation: the upgrade itself creates the connection (negotiate version 0), so
        // it is admitted, and rate limited, as a negotiate would be.
        connection_lease lease;
        if (!admit(req, *ex, who, lease)) {
            return;
        }
        auto issued = connections_.issue_active(transport_kind::websockets,
                                                who != nullptr ? who->user_id : std::string(),
                                                std::move(lease));
        connection_id = std::move(issued.connection_id);
        connection_token = std::move(issued.token);
    } else {
        auto claim = connections_.claim(*token, transport_kind::websockets, user_of(who));
        if (claim.status == connection_manager::claim_status::resumable) {
            if (settings_.confirm_resume) {
                return confirm_then_resume(req, ex, *token, std::move(claim.connection_id),
                                           std::move(claim.target), who);
            }
            return resume_websocket(req, ex, claim.target);
        }
        if (claim.status == connection_manager::claim_status::unknown && settings_.adopt) {
            return adopt_websocket(req, ex, *token, who);
        }
        if (claim.status != connection_manager::claim_status::claimed) {
            return ex->respond(claim_failure(req, claim.status));
        }
        connection_id = std::move(claim.connection_id);
        connection_token = *token;
        stateful = claim.stateful;
    }
    auto conn = create_connection(req, *ex, transport_kind::websockets, std::move(connection_id),
                                  std::move(connection_token), who, stateful);
    std::make_shared<websocket_session>(ex->take_stream(), conn)->run(req);
}

void endpoint::resume_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                                const std::weak_ptr<connection>& target) {
    auto conn = target.lock();
    if (!conn) {
        return ex->respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
    }
    // The connection lives on its shard; the new socket moves there (it carries no buffered
    // bytes: a WebSocket client waits for the upgrade answer before sending). Over TLS the
    // OpenSSL session moves with it: Asio streams are bound to their shard's io_context, an
    // SSL object is not, so a new stream on the target shard adopts it (one reference taken
    // here keeps it alive while the old stream is destroyed).
    auto stream = ex->take_stream();
    SSL* ssl = nullptr;
    if (auto* tls = stream.tls()) {
        ssl = tls->native_handle();
        SSL_up_ref(ssl);
    }
    auto& old_socket = stream.socket();
    boost::system::error_code ec;
    const auto protocol = old_socket.local_endpoint(ec).protocol();
    const auto handle = ec ? -1 : old_socket.release(ec);
    if (ec) {
        SSL_free(ssl);
        return;
    }
    boost::asio::post(shards_.context(conn->shard()), [this, conn, protocol, handle, ssl,
                                                       req = std::move(req)]() mutable {
        boost::asio::ip::tcp::socket socket(shards_.context(conn->shard()));
        boost::system::error_code assign_ec;
        socket.assign(protocol, handle, assign_ec);
        if (assign_ec) {
            ::close(handle);
            SSL_free(ssl);
            return;
        }
        boost::beast::tcp_stream tcp(std::move(socket));
        auto session = std::make_shared<websocket_session>(
            ssl != nullptr ? http::stream(http::stream::tls_stream(std::move(tcp), ssl))
                           : http::stream(std::move(tcp)),
            conn);
        session->set_resuming();
        session->run(req);
    });
}

void endpoint::confirm_then_resume(http::request& req, const std::shared_ptr<http::exchange>& ex,
                                   std::string token, std::string connection_id,
                                   std::weak_ptr<connection> target, const identity* who) {
    auto request = std::make_shared<http::request>(std::move(req));
    std::optional<identity> verified;
    if (who != nullptr) {
        verified = *who;
    }
    const auto conn = target.lock();
    const auto via = conn ? conn->shard() : ex->shard();
    auto answered = [this, ex, request, token = std::move(token), verified = std::move(verified),
                     target](bool resumable) mutable {
        auto& req = *request;
        if (resumable) {
            return resume_websocket(req, ex, target);
        }
        // The paused copy has ended (it ran on its shard before this): the request goes on as
        // one for a connection unknown here, a takeover from the record, or 404.
        const auto* who = verified ? &*verified : nullptr;
        const auto claim = connections_.claim(token, transport_kind::websockets, user_of(who));
        if (claim.status == connection_manager::claim_status::unknown) {
            return adopt_websocket(req, ex, token, who);
        }
        ex->respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
    };
    settings_.confirm_resume(
        std::move(connection_id),
        [this, ex, via, answered = std::move(answered)](bool resumable) mutable {
            // Through the connection's shard: a refusal ended the copy with a task posted there
            // before this answer, so the hop runs after it.
            boost::asio::post(shards_.context(via), [this, ex, resumable,
                                                     answered = std::move(answered)]() mutable {
                boost::asio::post(
                    shards_.context(ex->shard()),
                    [resumable, answered = std::move(answered)]() mutable { answered(resumable); });
            });
        });
}

void endpoint::adopt_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex,
                               std::string token, const identity* who) {
    // As the hub names users: the token's user, or in development mode the query's.
    std::string user;
    if (who != nullptr) {
        user = who->user_id;
    } else if (const auto query_user = find_param(parse_query(req.target()), "user")) {
        user = *query_user;
    }
    std::optional<identity> verified;
    if (who != nullptr) {
        verified = *who;
    }
    auto request = std::make_shared<http::request>(std::move(req));
    settings_.adopt(
        token, user,
        [this, ex, request, token,
         verified = std::move(verified)](endpoint_options::adopted_connection adopted) {
            boost::asio::post(shards_.context(ex->shard()), [this, ex, request, token, verified,
                                                             adopted = std::move(adopted)] {
                auto& req = *request;
                if (!adopted.state) {
                    return ex->respond(adopted.refusal == 403
                                           ? empty_response(req, bhttp::status::forbidden)
                                           : http::make_text_response(
                                                 req, static_cast<bhttp::status>(adopted.refusal),
                                                 "No Connection with that ID"));
                }
                const auto* who = verified ? &*verified : nullptr;
                connection_lease lease;
                if (!admit(req, *ex, who, lease)) {
                    return;
                }
                if (!connections_.adopt(adopted.connection_id, token,
                                        who != nullptr ? who->user_id : std::string(),
                                        std::move(lease))) {
                    return ex->respond(http::make_text_response(req, bhttp::status::conflict,
                                                                "Connection already in use"));
                }
                auto conn =
                    create_connection(req, *ex, transport_kind::websockets, adopted.connection_id,
                                      token, who, true, adopted.state);
                std::make_shared<websocket_session>(ex->take_stream(), conn)->run(req);
            });
        });
}

void endpoint::handle_sse(http::request& req, const std::shared_ptr<http::exchange>& ex,
                          const std::string& token, const identity* who) {
    if (!enabled(transport_kind::server_sent_events)) {
        return ex->respond(http::make_text_response(
            req, bhttp::status::not_found,
            std::string(not_supported_message(transport_kind::server_sent_events))));
    }
    auto claim = connections_.claim(token, transport_kind::server_sent_events, user_of(who));
    if (claim.status != connection_manager::claim_status::claimed) {
        return ex->respond(claim_failure(req, claim.status));
    }
    auto conn = create_connection(req, *ex, transport_kind::server_sent_events,
                                  std::move(claim.connection_id), token, who);
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, req.version()};
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache,no-store");
    head.set(bhttp::field::pragma, "no-cache");
    head.set(bhttp::field::content_encoding, "identity");
    head.keep_alive(false);
    ex->add_cors_headers(head);
    std::ostringstream serialized;
    serialized << head.base();
    std::make_shared<sse_session>(ex->take_stream(), conn)->run(serialized.str());
}

bool endpoint::resolve(http::request& req, http::exchange& ex, const std::string& token,
                       const identity* who, connection_manager::located& out) {
    out = connections_.find(token);
    if (!out.found || out.target.expired()) {
        ex.respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
        return false;
    }
    if (!owns(who, out.owner)) {
        ex.respond(empty_response(req, bhttp::status::forbidden));
        return false;
    }
    return true;
}

void endpoint::handle_poll(http::request& req, const std::shared_ptr<http::exchange>& ex,
                           const std::string& token, const identity* who) {
    if (!enabled(transport_kind::long_polling)) {
        return ex->respond(http::make_text_response(
            req, bhttp::status::not_found,
            std::string(not_supported_message(transport_kind::long_polling))));
    }
    auto located = connections_.find(token);
    if (located.found && located.transport == transport_kind::long_polling) {
        if (!owns(who, located.owner)) {
            return ex->respond(empty_response(req, bhttp::status::forbidden));
        }
        auto conn = located.target.lock();
        if (!conn) {
            return ex->respond(http::make_text_response(req, bhttp::status::not_found,
                                                        "No Connection with that ID"));
        }
        return boost::asio::post(shards_.context(conn->shard()), [this, conn, ex] {
            if (auto* lp = dynamic_cast<long_polling_transport*>(conn->writer())) {
                return lp->poll(ex);
            }
            // The connection ended between lookup and now: tell the client to stop polling.
            auto res = make_no_content(*ex);
            boost::asio::post(shards_.context(ex->shard()), [ex, res = std::move(res)]() mutable {
                ex->respond(std::move(res));
            });
        });
    }
    auto claim = connections_.claim(token, transport_kind::long_polling, user_of(who));
    if (claim.status != connection_manager::claim_status::claimed) {
        return ex->respond(claim_failure(req, claim.status));
    }
    auto conn = create_connection(req, *ex, transport_kind::long_polling,
                                  std::move(claim.connection_id), token, who);
    auto lp = std::make_shared<long_polling_transport>(shards_, conn, settings_.long_polling);
    conn->own_writer(lp);
    lp->start(ex);
}

void endpoint::handle_send(http::request& req, const std::shared_ptr<http::exchange>& ex,
                           const std::string& token, const identity* who) {
    connection_manager::located located;
    if (!resolve(req, *ex, token, who, located)) {
        return;
    }
    if (located.transport == transport_kind::websockets) {
        return ex->respond(
            http::make_text_response(req, bhttp::status::method_not_allowed,
                                     "POST requests are not allowed for WebSocket connections."));
    }
    auto conn = located.target.lock();
    if (!conn) {
        return ex->respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
    }
    // The body is moved to the connection's shard; the answer comes back to this one.
    boost::asio::post(
        shards_.context(conn->shard()), [this, conn, ex, body = std::move(req.body())] {
            const bool delivered = !conn->closing();
            if (delivered) {
                conn->deliver(body);
            }
            boost::asio::post(shards_.context(ex->shard()), [ex, delivered] {
                http::response res{delivered ? bhttp::status::ok : bhttp::status::not_found,
                                   ex->version()};
                res.set(bhttp::field::content_type, "text/plain");
                res.keep_alive(ex->keep_alive());
                res.prepare_payload();
                ex->respond(std::move(res));
            });
        });
}

void endpoint::handle_delete(http::request& req, const std::shared_ptr<http::exchange>& ex,
                             const std::string& token, const identity* who) {
    connection_manager::located located;
    if (!resolve(req, *ex, token, who, located)) {
        return;
    }
    if (located.transport != transport_kind::long_polling) {
        return ex->respond(http::make_text_response(
            req, bhttp::status::bad_request,
            "Cannot terminate this connection using the DELETE endpoint."));
    }
    if (auto conn = located.target.lock()) {
        boost::asio::post(shards_.context(conn->shard()), [conn] {
            if (auto* lp = dynamic_cast<long_polling_transport*>(conn->writer())) {
                lp->terminate();
            }
        });
    }
    ex->respond(http::make_text_response(req, bhttp::status::accepted, ""));
}

}  // namespace switchboard::transport
