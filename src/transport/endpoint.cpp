#include "transport/endpoint.hpp"

#include "transport/websocket_session.hpp"

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <optional>

namespace switchboard::transport {

namespace bhttp = boost::beast::http;

namespace {

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view target) {
    std::vector<std::pair<std::string, std::string>> out;
    auto url = boost::urls::parse_origin_form(target);
    if (!url) {
        return out;
    }
    for (const auto param : url->params()) {
        out.emplace_back(param.key, param.value);
    }
    return out;
}

std::optional<std::string> find_param(const std::vector<std::pair<std::string, std::string>>& q,
                                      std::string_view name) {
    request_info info{q, {}};
    if (const auto* value = info.find_query(name)) {
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

}  // namespace

std::string make_negotiate_response(int negotiate_version, std::string_view connection_id,
                                    std::string_view token) {
    std::string out =
        "{\"negotiateVersion\":" + std::to_string(negotiate_version) +
        ",\"connectionId\":" + boost::json::serialize(boost::json::string(connection_id));
    if (negotiate_version > 0) {
        out += ",\"connectionToken\":" + boost::json::serialize(boost::json::string(token));
    }
    out +=
        ",\"availableTransports\":[{\"transport\":\"WebSockets\",\"transferFormats\":"
        "[\"Text\",\"Binary\"]}]}";
    return out;
}

endpoint::endpoint(connection_manager& connections, const hub_options& options,
                   application_factory factory)
    : connections_(connections), options_(options), factory_(std::move(factory)) {}

void endpoint::handle(http::request& req, std::string_view subpath,
                      std::shared_ptr<http::exchange> ex) {
    if (subpath == "/negotiate") {
        if (req.method() != bhttp::verb::post) {
            return ex->respond(http::make_text_response(req, bhttp::status::method_not_allowed,
                                                        "Method Not Allowed"));
        }
        return handle_negotiate(req, *ex);
    }
    if (!subpath.empty() && subpath != "/") {
        return ex->respond(http::make_text_response(req, bhttp::status::not_found, "Not Found"));
    }
    if (req.method() == bhttp::verb::get && boost::beast::websocket::is_upgrade(req)) {
        return handle_websocket(req, ex);
    }
    handle_other_transport(req, *ex);
}

void endpoint::handle_negotiate(http::request& req, http::exchange& ex) {
    const auto query = parse_query(req.target());
    int version = 0;
    if (const auto requested = find_param(query, "negotiateVersion")) {
        int parsed = 0;
        const auto* end = requested->data() + requested->size();
        const auto [ptr, ec] = std::from_chars(requested->data(), end, parsed);
        if (ec != std::errc{} || ptr != end) {
            return ex.respond(json_response(
                req, R"({"error":"The client requested a non-integer protocol version."})"));
        }
        // Version 1 is the newest this server (and ASP.NET) speaks; newer clients get 1.
        version = parsed >= 1 ? 1 : 0;
    }
    const auto issued = connections_.issue(version);
    ex.respond(
        json_response(req, make_negotiate_response(version, issued.connection_id, issued.token)));
}

void endpoint::handle_websocket(http::request& req, const std::shared_ptr<http::exchange>& ex) {
    const auto query = parse_query(req.target());
    const auto token = find_param(query, "id");
    if (!token || token->empty()) {
        // skipNegotiation: the upgrade itself creates the connection (negotiate version 0).
        auto issued = connections_.issue_active(transport_kind::websockets);
        return start_connection(req, ex, std::move(issued.connection_id), std::move(issued.token));
    }
    auto claim = connections_.claim(*token, transport_kind::websockets);
    switch (claim.status) {
    case connection_manager::claim_status::claimed:
        return start_connection(req, ex, std::move(claim.connection_id), *token);
    case connection_manager::claim_status::unknown:
        return ex->respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
    case connection_manager::claim_status::wrong_transport:
        return ex->respond(http::make_text_response(req, bhttp::status::bad_request,
                                                    "Cannot change transports mid-connection"));
    case connection_manager::claim_status::in_use:
        return ex->respond(
            http::make_text_response(req, bhttp::status::conflict, "Connection already in use"));
    }
}

void endpoint::start_connection(http::request& req, const std::shared_ptr<http::exchange>& ex,
                                std::string connection_id, std::string token) {
    request_info info{parse_query(req.target()), ex->remote_address()};
    auto conn = std::make_shared<connection>(std::move(connection_id), token, ex->shard(),
                                             transfer_format::text, options_.send_queue_limit,
                                             std::move(info));
    conn->set_application(factory_(conn));
    auto session = std::make_shared<websocket_session>(
        ex->take_stream(), conn, [this, token] { connections_.remove(token); });
    session->run(std::move(req));
}

void endpoint::handle_other_transport(http::request& req, http::exchange& ex) {
    const auto method = req.method();
    if (method != bhttp::verb::get && method != bhttp::verb::post &&
        method != bhttp::verb::delete_) {
        return ex.respond(
            http::make_text_response(req, bhttp::status::method_not_allowed, "Method Not Allowed"));
    }
    const auto token = find_param(parse_query(req.target()), "id");
    if (!token || token->empty()) {
        return ex.respond(
            http::make_text_response(req, bhttp::status::bad_request, "Connection ID required"));
    }
    transport_kind transport = transport_kind::none;
    if (!connections_.exists(*token, &transport)) {
        return ex.respond(
            http::make_text_response(req, bhttp::status::not_found, "No Connection with that ID"));
    }
    if (method == bhttp::verb::post && transport == transport_kind::websockets) {
        return ex.respond(
            http::make_text_response(req, bhttp::status::method_not_allowed,
                                     "POST requests are not allowed for WebSocket connections."));
    }
    if (method == bhttp::verb::delete_) {
        return ex.respond(http::make_text_response(
            req, bhttp::status::bad_request,
            "Cannot terminate this connection using the DELETE endpoint."));
    }
    const bool sse = req[bhttp::field::accept] == "text/event-stream";
    ex.respond(http::make_text_response(req, bhttp::status::not_found,
                                        std::string(sse ? "ServerSentEvents" : "LongPolling") +
                                            " transport not supported by this end point type"));
}

}  // namespace switchboard::transport
