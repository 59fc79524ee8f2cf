#include "api/rest_api.hpp"

#include "api/openapi.hpp"
#include "core/ascii.hpp"
#include "core/shared_buffer.hpp"
#include "protocol/codec.hpp"
#include "protocol/hub_message.hpp"

#include <msgpuck.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace switchboard::api {

namespace bhttp = boost::beast::http;
namespace json = boost::json;
using routing::selection;

namespace {

constexpr std::string_view rest_infix = "switchboard:rest:";
// Existence checks waiting for other instances, at most (each holds a timer for query_timeout).
constexpr std::size_t max_pending_queries = 10'000;

std::optional<access_key_auth> make_auth(const rest_options& options) {
    std::vector<std::string> keys = options.access_keys;
    std::string host;
    if (!options.connection_string.empty()) {
        auto parsed = parse_connection_string(options.connection_string);
        if (!parsed) {
            throw std::runtime_error("--connection-string: " + parsed.error_message());
        }
        keys.push_back(parsed->access_key);
        const auto audience = audience_of_url(parsed->endpoint);
        host = audience ? audience->host : std::string();
    }
    if (keys.empty()) {
        return std::nullopt;
    }
    auto made = access_key_auth::make(keys, host);
    if (!made) {
        throw std::runtime_error("--access-key: " + made.error_message());
    }
    return std::move(*made);
}

std::string_view scope_name(selection::kind kind) {
    switch (kind) {
    case selection::kind::all:
        return "all";
    case selection::kind::connection:
        return "connection";
    case selection::kind::user:
        return "user";
    case selection::kind::group:
        return "group";
    case selection::kind::user_in_group:
        return "user-in-group";
    }
    return "all";
}

std::optional<selection::kind> scope_of(std::string_view name) {
    for (const auto kind :
         {selection::kind::all, selection::kind::connection, selection::kind::user,
          selection::kind::group, selection::kind::user_in_group}) {
        if (scope_name(kind) == name) {
            return kind;
        }
    }
    return std::nullopt;
}

json::object to_json(const selection& which) {
    json::array excluded;
    for (const auto& id : which.excluded) {
        excluded.emplace_back(id);
    }
    return json::object{{"scope", scope_name(which.target)},
                        {"name", which.name},
                        {"group", which.group},
                        {"excluded", std::move(excluded)}};
}

std::string string_of(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
}

std::optional<selection> selection_of(const json::object& command) {
    const auto kind = scope_of(string_of(command, "scope"));
    if (!kind) {
        return std::nullopt;
    }
    selection which{*kind, string_of(command, "name"), string_of(command, "group"), {}};
    if (const auto* excluded = command.if_contains("excluded"); excluded && excluded->is_array()) {
        for (const auto& id : excluded->get_array()) {
            if (id.is_string() && which.excluded.size() < max_excluded) {
                which.excluded.emplace_back(id.get_string());
            }
        }
    }
    return which;
}

// The PayloadMessage body; property names match case-insensitively (the .NET SDK writes
// "Target" and "Arguments").
struct payload {
    std::string target;
    json::array arguments;
};

std::optional<payload> parse_payload(std::string_view body, std::string& why) {
    json::error_code ec;
    json::parse_options limits;
    limits.max_depth = 64;
    auto value = json::parse(body, ec, {}, limits);
    if (ec || !value.is_object()) {
        why = "The body must be a JSON object: {\"target\": \"<method>\", \"arguments\": [...]}.";
        return std::nullopt;
    }
    payload out;
    bool has_target = false;
    for (auto& [key, item] : value.get_object()) {
        if (ascii_iequals(key, "target")) {
            if (!item.is_string() || item.get_string().empty()) {
                why = "\"target\" must be a non-empty string.";
                return std::nullopt;
            }
            out.target = std::string(item.get_string());
            has_target = true;
        } else if (ascii_iequals(key, "arguments")) {
            if (item.is_null()) {
                continue;
            }
            if (!item.is_array()) {
                why = "\"arguments\" must be an array.";
                return std::nullopt;
            }
            out.arguments = std::move(item.get_array());
        }
    }
    if (!has_target) {
        why = "Message in request body is required: \"target\" is missing.";
        return std::nullopt;
    }
    return out;
}

// The binary body (Content-Type: application/octet-stream) the SDK sends when hub protocols are
// registered: a MessagePack map from protocol name ("json", "messagepack") to that protocol's
// framed Invocation. One of them is decoded (json first) and re-encoded per protocol as any
// message is: the router needs every protocol's bytes, and a body may hold only one.
std::optional<payload> parse_binary_payload(std::string_view body, std::string& why) {
    why =
        "The binary body must be a MessagePack map of protocol names (\"json\", "
        "\"messagepack\") to framed hub Invocation messages.";
    const char* check = body.data();
    const char* const end = body.data() + body.size();
    if (body.empty() || mp_check(&check, end) != 0 || check != end) {
        return std::nullopt;
    }
    const char* p = body.data();
    if (mp_typeof(*p) != MP_MAP) {
        return std::nullopt;
    }
    std::optional<std::string_view> framed[protocol::wire_protocol_count];
    for (std::uint32_t n = mp_decode_map(&p), i = 0; i < n; ++i) {
        if (mp_typeof(*p) != MP_STR) {
            return std::nullopt;
        }
        std::uint32_t key_size = 0;
        const char* key = mp_decode_str(&p, &key_size);
        if (mp_typeof(*p) != MP_BIN) {
            return std::nullopt;
        }
        std::uint32_t value_size = 0;
        const char* value = mp_decode_bin(&p, &value_size);
        for (const auto protocol :
             {protocol::wire_protocol::json, protocol::wire_protocol::messagepack}) {
            if (std::string_view(key, key_size) == protocol::codec_of(protocol).name) {
                framed[static_cast<std::size_t>(protocol)] = std::string_view(value, value_size);
            }
        }
    }
    for (const auto protocol :
         {protocol::wire_protocol::json, protocol::wire_protocol::messagepack}) {
        const auto& bytes = framed[static_cast<std::size_t>(protocol)];
        if (!bytes) {
            continue;
        }
        const auto& codec = protocol::codec_of(protocol);
        std::string_view record;
        if (!codec.unframe(*bytes, record)) {
            return std::nullopt;
        }
        auto message = codec.parse(record);
        auto* invocation = message ? std::get_if<protocol::invocation_message>(&*message) : nullptr;
        if (invocation == nullptr || invocation->target.empty()) {
            why = "The " + std::string(codec.name) + " payload is not a hub Invocation.";
            return std::nullopt;
        }
        return payload{std::move(invocation->target), std::move(invocation->arguments)};
    }
    return std::nullopt;
}

}  // namespace

rest_api::rest_api(shard_pool& shards, routing::router& router, routing::backplane& bus,
                   hub::hub_server& hubs, rest_options options, switchboard::metrics* counters)
    : shards_(shards),
      router_(router),
      bus_(bus),
      hubs_(hubs),
      options_(std::move(options)),
      counters_(counters),
      auth_(make_auth(options_)) {
    bus_prefix_ = router.options().channel_prefix + std::string(rest_infix);
    all_channel_ = bus_prefix_ + "all";
    reply_channel_ = bus_prefix_ + "reply:" + router.options().server_name;
    if (!enabled()) {
        return;
    }
    // A connection that arrives joins the groups its user was put in through the API.
    router_.set_connection_observer(
        [this](routing::hub_id hub, const std::string& connection_id, const std::string& user) {
            if (user.empty()) {
                return;
            }
            for (const auto& group :
                 user_groups_.groups_of(hub, user, user_group_store::clock::now())) {
                router_.add_to_group(hub, connection_id, group);
            }
        });
}

void rest_api::start() {
    if (!enabled() || !bus_.shared()) {
        return;
    }
    bus_.subscribe(all_channel_);
    bus_.subscribe(reply_channel_);
}

std::optional<routing::hub_id> rest_api::find_hub(std::string_view key) const {
    for (std::size_t hub = 0; hub < hubs_.hub_count(); ++hub) {
        if (ascii_iequals(hubs_.definition(hub).name(), key)) {
            return hub;
        }
    }
    return std::nullopt;
}

void rest_api::respond(const exchange_ptr& ex, const head& h, unsigned status) {
    http::response res{static_cast<bhttp::status>(status), h.version};
    res.keep_alive(h.keep_alive);
    res.prepare_payload();
    ex->respond(std::move(res));
}

void rest_api::respond_json(const exchange_ptr& ex, const head& h, const json::object& body) {
    http::response res{bhttp::status::ok, h.version};
    res.keep_alive(h.keep_alive);
    res.set(bhttp::field::cache_control, "no-store");
    res.set(bhttp::field::content_type, "application/json; charset=utf-8");
    if (!h.is_head) {
        res.body() = json::serialize(body);
    }
    res.prepare_payload();
    ex->respond(std::move(res));
}

void rest_api::read_presence(const api_request& request, routing::hub_id hub,
                             const exchange_ptr& ex, const head& h) {
    const auto& name = router_.hub_name(hub);
    auto* store = router_.presence();
    if (store == nullptr) {
        return respond_error(ex, h, 404, "Error.Presence.Off", "Presence is off on this server.");
    }
    // The store answers on its own shard; the response is written on the request's.
    auto executor = router_.current_executor();
    const auto entries_answer =
        [this, ex, h, executor](expected<presence::page<presence::connection_entry>> page) {
            boost::asio::post(executor, [this, ex, h, page = std::move(page)] {
                if (!page) {
                    return respond_error(ex, h, 503, "Error.Presence.Unavailable",
                                         page.error_message());
                }
                json::array list;
                for (const auto& entry : page->entries) {
                    list.push_back(json::object{{"connectionId", entry.connection_id},
                                                {"userId", entry.user_id},
                                                {"instance", entry.instance},
                                                {"connectedAt", entry.connected_at_ms}});
                }
                respond_json(ex, h,
                             json::object{{"connections", std::move(list)}, {"next", page->next}});
            });
        };
    switch (request.op) {
    case operation::online_users:
        return store->online_users(
            name, request.cursor, request.limit,
            [this, ex, h, executor](expected<presence::page<std::string>> page) {
                boost::asio::post(executor, [this, ex, h, page = std::move(page)] {
                    if (!page) {
                        return respond_error(ex, h, 503, "Error.Presence.Unavailable",
                                             page.error_message());
                    }
                    json::array users(page->entries.begin(), page->entries.end());
                    respond_json(ex, h,
                                 json::object{{"users", std::move(users)}, {"next", page->next}});
                });
            });
    case operation::user_connections:
        return store->user_connections(name, request.user, request.cursor, request.limit,
                                       entries_answer);
    default:
        return store->group_members(name, request.group, request.cursor, request.limit,
                                    entries_answer);
    }
}

void rest_api::respond_error(const exchange_ptr& ex, const head& h, unsigned status,
                             std::string_view code, std::string_view message) {
    http::response res{static_cast<bhttp::status>(status), h.version};
    res.keep_alive(h.keep_alive);
    // The SDK reads "entity absent" from this header on 404s (specs §3).
    res.set("x-ms-error-code", code);
    res.set(bhttp::field::cache_control, "no-store");
    if (!h.is_head) {
        res.set(bhttp::field::content_type, "application/json; charset=utf-8");
        res.body() = json::serialize(json::object{{"code", code}, {"message", message}});
    }
    res.prepare_payload();
    if (h.is_head) {
        res.content_length(0);
    }
    ex->respond(std::move(res));
}

void rest_api::count(outcome what) {
    if (counters_ != nullptr) {
        (what == executed ? counters_->rest_requests : counters_->rest_refused).add();
    }
}

void rest_api::handle(http::request& req, const std::shared_ptr<http::exchange>& ex) {
    const head h{req.version(), req.keep_alive(), req.method() == bhttp::verb::head};
    const auto target = std::string_view(req.target());
    const auto path = target.substr(0, target.find('?'));
    if (ascii_iequals(path, "/api/openapi.json")) {
        // Public, even with the API off: it describes the API, it grants nothing.
        auto res =
            http::make_text_response(req, bhttp::status::ok, std::string(openapi_document()));
        res.set(bhttp::field::content_type, "application/json");
        return ex->respond(std::move(res));
    }
    if (!enabled()) {
        return respond_error(ex, h, 404, "Error.RestApi.Disabled",
                             "The REST API is off: configure --access-key or --connection-string.");
    }
    auto parsed = parse_request(req.method(), target);
    if (parsed.request && parsed.request->op == operation::health) {
        // Unauthenticated: the SDK's background health check sends no token.
        return respond(ex, h, 200);
    }
    if (const auto refused =
            auth_->check(req[bhttp::field::authorization], path, req[bhttp::field::host],
                         std::chrono::system_clock::now())) {
        count(rest_api::refused);
        spdlog::debug("rest: 401 for {}: {}", ex->remote_address(), refused->description);
        // The reason may quote the token: printable ASCII only, bounded, before it becomes a
        // header value.
        std::string description = refused->description.substr(0, 200);
        for (auto& c : description) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
                c = '\'';
            }
        }
        http::response res{bhttp::status::unauthorized, h.version};
        res.keep_alive(h.keep_alive);
        res.set(bhttp::field::www_authenticate,
                "Bearer error=\"invalid_token\", error_description=\"" + description + "\"");
        res.set("x-ms-error-code", "Error.Unauthorized");
        if (!h.is_head) {
            res.set(bhttp::field::content_type, "application/json; charset=utf-8");
            res.body() = json::serialize(
                json::object{{"code", "Error.Unauthorized"}, {"message", description}});
        }
        res.prepare_payload();
        return ex->respond(std::move(res));
    }
    if (!parsed.request) {
        count(refused);
        const auto& f = parsed.failure;
        return respond_error(ex, h, f.status, f.code, f.message);
    }
    const auto& request = *parsed.request;
    const auto hub = find_hub(request.hub);
    if (!hub) {
        count(refused);
        return respond_error(ex, h, 404, "Error.Hub.NotExisted",
                             "No hub named '" + request.hub + "' is served here.");
    }
    count(executed);
    execute(request, *hub, req, ex, h);
}

void rest_api::execute(const api_request& request, routing::hub_id hub, http::request& req,
                       const exchange_ptr& ex, const head& h) {
    const unsigned ok = success_status(request);
    const auto reply = [this, ex, h, ok](std::size_t) { respond(ex, h, ok); };
    switch (request.op) {
    case operation::health:
        return respond(ex, h, 200);
    case operation::online_users:
    case operation::user_connections:
    case operation::group_members:
        return read_presence(request, hub, ex, h);
    case operation::broadcast:
    case operation::send_to_user:
    case operation::send_to_connection:
    case operation::send_to_group:
        return send(request, hub, req, ex, h);
    case operation::add_connection_to_group:
        // Through the router: on another instance, answered after that instance's ack.
        return router_.add_to_group(
            hub, request.connection_id, request.group, [this, ex, h, ok](expected<void> done) {
                if (done) {
                    return respond(ex, h, ok);
                }
                if (done.error_message().starts_with("Group limit")) {
                    return respond_error(ex, h, 400, "Error.Group.LimitReached",
                                         done.error_message());
                }
                respond_error(ex, h, 404, "Error.Connection.NotExisted", done.error_message());
            });
    case operation::remove_connection_from_group:
        // 200 even when the connection is gone: the SDK throws on any 404 here (specs §3).
        return router_.remove_from_group(hub, request.connection_id, request.group,
                                         [this, ex, h, ok](expected<void>) { respond(ex, h, ok); });
    case operation::remove_connection_from_all_groups: {
        selection which{selection::kind::connection, request.connection_id, {}, {}};
        auto command = to_json(which);
        command["op"] = "leave-all";
        command["hub"] = request.hub;
        return apply_leave_all(hub, which, [this, command, reply](std::size_t found) mutable {
            if (found == 0) {
                broadcast(std::move(command));
            }
            reply(found);
        });
    }
    case operation::add_user_to_group:
    case operation::remove_user_from_group:
    case operation::remove_user_from_all_groups: {
        const std::string_view action = request.op == operation::add_user_to_group ? "add"
                                        : request.op == operation::remove_user_from_group
                                            ? "remove"
                                            : "remove-all";
        if (!apply_user_group(hub, request.user, request.group, action, request.ttl, reply)) {
            return respond_error(ex, h, 503, "Error.UserGroups.Full",
                                 "Too many user-group memberships on this server.");
        }
        json::object command{{"op", "user-group"},
                             {"hub", request.hub},
                             {"user", request.user},
                             {"group", request.group},
                             {"action", action}};
        if (request.ttl) {
            command["ttl"] = *request.ttl;
        }
        return broadcast(std::move(command));
    }
    case operation::user_in_group:
        if (user_groups_.contains(hub, request.user, request.group,
                                  user_group_store::clock::now())) {
            return respond(ex, h, 200);
        }
        return exists(
            hub, selection{selection::kind::user_in_group, request.user, request.group, {}},
            "Info.User.NotInGroup",
            "User '" + request.user + "' is not in group '" + request.group + "'.", ex, h);
    case operation::connection_exists:
        return exists(hub, selection{selection::kind::connection, request.connection_id, {}, {}},
                      "Warning.Connection.NotExisted",
                      "Connection '" + request.connection_id + "' does not exist.", ex, h);
    case operation::user_exists:
        return exists(hub, selection{selection::kind::user, request.user, {}, {}},
                      "Warning.User.NotExisted", "User '" + request.user + "' has no connection.",
                      ex, h);
    case operation::group_exists:
        return exists(hub, selection{selection::kind::group, request.group, {}, {}},
                      "Warning.Group.NotExisted",
                      "Group '" + request.group + "' has no connection.", ex, h);
    case operation::close_connection:
    case operation::close_all:
    case operation::close_group:
    case operation::close_user: {
        selection which;
        which.excluded = request.excluded;
        if (request.op == operation::close_connection) {
            which.target = selection::kind::connection;
            which.name = request.connection_id;
        } else if (request.op == operation::close_group) {
            which.target = selection::kind::group;
            which.name = request.group;
        } else if (request.op == operation::close_user) {
            which.target = selection::kind::user;
            which.name = request.user;
        }
        auto command = to_json(which);
        command["op"] = "close";
        command["hub"] = request.hub;
        if (request.reason) {
            command["reason"] = *request.reason;
        }
        const bool single = request.op == operation::close_connection;
        return apply_close(hub, std::move(which), request.reason,
                           [this, single, command, reply](std::size_t found) mutable {
                               // One connection found here is nowhere else.
                               if (!single || found == 0) {
                                   broadcast(std::move(command));
                               }
                               reply(found);
                           });
    }
    }
}

void rest_api::send(const api_request& request, routing::hub_id hub, http::request& req,
                    const exchange_ptr& ex, const head& h) {
    const auto type = std::string_view(req[bhttp::field::content_type]);
    std::string why;
    auto message = ascii_istarts_with(type, "application/octet-stream")
                       ? parse_binary_payload(req.body(), why)
                       : parse_payload(req.body(), why);
    if (!message) {
        return respond_error(ex, h, 400, "Error.InvalidArgument", why);
    }
    auto encoded = routing::make_message(std::move(message->target), std::move(message->arguments));
    switch (request.op) {
    case operation::broadcast:
        router_.send(hub, routing::audience::all_except(request.excluded), std::move(encoded));
        break;
    case operation::send_to_user:
        router_.send(hub, routing::audience::users({request.user}), std::move(encoded));
        break;
    case operation::send_to_connection:
        router_.send(hub, routing::audience::connections({request.connection_id}),
                     std::move(encoded));
        break;
    case operation::send_to_group:
        router_.send(hub, routing::audience::groups({request.group}, request.excluded),
                     std::move(encoded));
        break;
    default:
        break;
    }
    respond(ex, h, success_status(request));
}

void rest_api::exists(routing::hub_id hub, selection which, std::string code, std::string message,
                      const exchange_ptr& ex, const head& h) {
    const auto remote = std::make_shared<selection>(which);
    router_.visit_local(hub, std::move(which), {},
                        [this, hub, remote, code, message, ex, h](std::size_t found) {
                            if (found > 0) {
                                return respond(ex, h, 200);
                            }
                            const auto answer = [this, code, message, ex, h](bool there) {
                                if (there) {
                                    return respond(ex, h, 200);
                                }
                                respond_error(ex, h, 404, code, message);
                            };
                            if (!bus_.shared()) {
                                return answer(false);
                            }
                            query(hub, *remote, answer);
                        });
}

void rest_api::apply_close(routing::hub_id hub, selection which, std::optional<std::string> reason,
                           std::function<void(std::size_t)> done) {
    router_.visit_local(
        hub, std::move(which),
        [reason](const routing::local_connection& c) { c.target->disconnect(reason); },
        std::move(done));
}

void rest_api::apply_leave_all(routing::hub_id hub, selection which,
                               std::function<void(std::size_t)> done) {
    router_.visit_local(
        hub, std::move(which),
        [this, hub](const routing::local_connection& c) {
            // On the connection's shard: each change applies here and now.
            for (const auto& group : c.groups) {
                router_.remove_from_group(hub, c.connection_id, group);
            }
        },
        std::move(done));
}

bool rest_api::apply_user_group(routing::hub_id hub, const std::string& user,
                                const std::string& group, std::string_view action,
                                std::optional<std::int64_t> ttl,
                                std::function<void(std::size_t)> done) {
    const auto now = user_group_store::clock::now();
    if (action == "add") {
        // ttl=0: the user's current connections only, nothing remembered (specs §3).
        if (ttl != 0) {
            const auto lasting = ttl ? std::optional(std::chrono::seconds(*ttl)) : std::nullopt;
            if (!user_groups_.add(hub, user, group, lasting, now)) {
                return false;
            }
        }
        router_.visit_local(
            hub, selection{selection::kind::user, user, {}, {}},
            [this, hub, group](const routing::local_connection& c) {
                router_.add_to_group(hub, c.connection_id, group);
            },
            std::move(done));
        return true;
    }
    if (action == "remove") {
        user_groups_.remove(hub, user, group);
        router_.visit_local(
            hub, selection{selection::kind::user_in_group, user, group, {}},
            [this, hub, group](const routing::local_connection& c) {
                router_.remove_from_group(hub, c.connection_id, group);
            },
            std::move(done));
        return true;
    }
    user_groups_.remove_all(hub, user);
    apply_leave_all(hub, selection{selection::kind::user, user, {}, {}}, std::move(done));
    return true;
}

void rest_api::sweep() {
    if (enabled() && bus_.shared() && !synced_ && bus_.connected()) {
        synced_ = true;
        boost::asio::post(shards_.context(routing::router::control_shard), [this] {
            // Once our reply channel is subscribed, so that no answer is lost.
            bus_.when_subscribed(reply_channel_, [this] {
                json::object request{{"op", "user-groups?"},
                                     {"reply", router_.options().server_name}};
                bus_.publish(all_channel_, make_shared_buffer(json::serialize(request)));
            });
        });
    }
    for (const auto& gone : user_groups_.sweep(user_group_store::clock::now())) {
        router_.visit_local(
            gone.hub, selection{selection::kind::user_in_group, gone.user, gone.group, {}},
            [this, hub = gone.hub, group = gone.group](const routing::local_connection& c) {
                router_.remove_from_group(hub, c.connection_id, group);
            },
            [](std::size_t) {});
    }
}

/*---- The bus side ----------------------------------------------------------------------*/

void rest_api::broadcast(json::object command) {
    if (!bus_.shared()) {
        return;
    }
    bus_.publish(all_channel_, make_shared_buffer(json::serialize(command)));
}

void rest_api::query(routing::hub_id hub, const selection& which,
                     std::function<void(bool)> answer) {
    const auto origin = shards_.current_shard();
    auto reply = [this, origin, answer = std::move(answer)](bool found) {
        if (origin >= shards_.size()) {
            return answer(found);
        }
        boost::asio::post(shards_.context(origin), [answer, found] { answer(found); });
    };
    auto command = to_json(which);
    command["op"] = "query";
    command["hub"] = hubs_.definition(hub).name();
    command["reply"] = router_.options().server_name;
    boost::asio::post(shards_.context(routing::router::control_shard),
                      [this, command = std::move(command), reply = std::move(reply)]() mutable {
                          if (pending_.size() >= max_pending_queries) {
                              // Bounded: a flood of checks for absent names answers 404 at once.
                              spdlog::warn("rest: {} existence checks waiting, answering 404",
                                           pending_.size());
                              return reply(false);
                          }
                          const auto id = ++last_query_id_;
                          auto& entry = pending_[id];
                          entry.answer = std::move(reply);
                          entry.timer = std::make_unique<boost::asio::steady_timer>(
                              shards_.context(routing::router::control_shard));
                          entry.timer->expires_after(options_.query_timeout);
                          entry.timer->async_wait([this, id](boost::system::error_code ec) {
                              if (ec) {
                                  return;
                              }
                              const auto it = pending_.find(id);
                              if (it != pending_.end()) {
                                  auto answer = std::move(it->second.answer);
                                  pending_.erase(it);
                                  answer(false);
                              }
                          });
                          command["id"] = id;
                          bus_.publish(all_channel_, make_shared_buffer(json::serialize(command)));
                      });
}

void rest_api::on_backplane_message(std::string_view, const shared_buffer& payload) {
    if (!payload) {
        return;
    }
    json::error_code ec;
    const auto value = json::parse(*payload, ec);
    if (ec || !value.is_object()) {
        spdlog::debug("rest: dropped a malformed bus command");
        return;
    }
    on_command(value.get_object());
}

void rest_api::on_command(const json::object& command) {
    const auto op = string_of(command, "op");
    if (op == "found") {
        const auto* id = command.if_contains("id");
        if (id == nullptr || !id->is_number()) {
            return;
        }
        json::error_code ec;
        const auto key = id->to_number<std::uint64_t>(ec);
        const auto it = ec ? pending_.end() : pending_.find(key);
        if (it != pending_.end()) {
            auto answer = std::move(it->second.answer);
            pending_.erase(it);  // the timer goes with it, its wait cancelled
            answer(true);
        }
        return;
    }
    if (op == "user-groups?") {
        return send_user_groups(string_of(command, "reply"));
    }
    if (op == "user-groups") {
        return receive_user_groups(command);
    }
    const auto hub = find_hub(string_of(command, "hub"));
    if (!hub) {
        return;  // a hub this instance does not serve
    }
    if (op == "user-group") {
        std::optional<std::int64_t> ttl;
        if (const auto* value = command.if_contains("ttl"); value && value->is_int64()) {
            ttl = std::clamp<std::int64_t>(value->get_int64(), 0, max_ttl_seconds);
        }
        const auto action = string_of(command, "action");
        if (action != "add" && action != "remove" && action != "remove-all") {
            return;
        }
        // A full store here refuses only this instance's copy: logged, the sender answered.
        if (!apply_user_group(*hub, string_of(command, "user"), string_of(command, "group"), action,
                              ttl, [](std::size_t) {})) {
            spdlog::warn(
                "rest: user-group store full, a membership from another instance "
                "was dropped");
        }
        return;
    }
    auto which = selection_of(command);
    if (!which) {
        return;
    }
    if (op == "close") {
        std::optional<std::string> reason;
        if (const auto* value = command.if_contains("reason"); value && value->is_string()) {
            reason = std::string(value->get_string());
        }
        return apply_close(*hub, std::move(*which), std::move(reason), [](std::size_t) {});
    }
    if (op == "leave-all") {
        return apply_leave_all(*hub, std::move(*which), [](std::size_t) {});
    }
    if (op == "query") {
        const auto* id = command.if_contains("id");
        const auto asker = string_of(command, "reply");
        if (id == nullptr || !id->is_number() || asker.empty()) {
            return;
        }
        const auto answer_to = bus_prefix_ + "reply:" + asker;
        json::object found{{"op", "found"}, {"id", *id}};
        router_.visit_local(
            *hub, std::move(*which), {}, [this, answer_to, found](std::size_t count) {
                if (count > 0) {
                    bus_.publish(answer_to, make_shared_buffer(json::serialize(found)));
                }
            });
    }
}

void rest_api::send_user_groups(const std::string& asker) {
    if (asker.empty()) {
        return;
    }
    // Bounded messages: the store may hold a million memberships.
    constexpr std::size_t per_message = 500;
    const auto answer_to = bus_prefix_ + "reply:" + asker;
    const auto entries = user_groups_.snapshot(user_group_store::clock::now());
    for (std::size_t first = 0; first < entries.size(); first += per_message) {
        json::array batch;
        for (std::size_t i = first; i < std::min(entries.size(), first + per_message); ++i) {
            const auto& e = entries[i];
            batch.push_back(json::array{json::string(hubs_.definition(e.hub).name()),
                                        json::string(e.user), json::string(e.group),
                                        e.ttl ? json::value(e.ttl->count()) : json::value()});
        }
        json::object message{{"op", "user-groups"}, {"entries", std::move(batch)}};
        bus_.publish(answer_to, make_shared_buffer(json::serialize(message)));
    }
}

void rest_api::receive_user_groups(const json::object& message) {
    const auto* entries = message.if_contains("entries");
    if (entries == nullptr || !entries->is_array()) {
        return;
    }
    const auto now = user_group_store::clock::now();
    for (const auto& item : entries->get_array()) {
        const auto* e = item.if_array();
        if (e == nullptr || e->size() != 4 || !(*e)[0].is_string() || !(*e)[1].is_string() ||
            !(*e)[2].is_string()) {
            continue;
        }
        const auto hub = find_hub((*e)[0].get_string());
        const std::string user((*e)[1].get_string());
        const std::string group((*e)[2].get_string());
        if (!hub || user_groups_.contains(*hub, user, group, now)) {
            continue;  // every instance answers: the first copy is enough
        }
        std::optional<std::int64_t> ttl;
        if ((*e)[3].is_int64()) {
            ttl = std::clamp<std::int64_t>((*e)[3].get_int64(), 1, max_ttl_seconds);
        }
        apply_user_group(*hub, user, group, "add", ttl, [](std::size_t) {});
    }
}

}  // namespace switchboard::api
