#include "events/http_api.hpp"

#include "events/event_format.hpp"
#include "events/event_stream.hpp"
#include "events/openapi.hpp"
#include "events/snapshot.hpp"
#include "http/stream.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <sstream>

namespace switchboard::events {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view subscribe_prefix = "/events";
constexpr std::string_view api_prefix = "/api/events";
constexpr std::string_view publish_role = "events:publish";

http::response text(const http::request& req, bhttp::status status, std::string body) {
    return http::make_text_response(req, status, std::move(body));
}

// Sorts and deduplicates `channels`; false when one is not a valid name.
bool normalize_channels(std::vector<std::string>& channels) {
    if (!std::all_of(channels.begin(), channels.end(),
                     [](const std::string& channel) { return valid_channel(channel); })) {
        return false;
    }
    std::sort(channels.begin(), channels.end());
    channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
    return true;
}

http::response json_response(const http::request& req, bhttp::status status,
                             const json::value& body) {
    auto res = http::make_text_response(req, status, json::serialize(body));
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    return res;
}

// What follows `prefix` in the %-decoded path: "" or "/<rest>".
std::string decoded_subpath(const boost::urls::url_view& url, std::string_view prefix) {
    std::string path = url.path();
    return path.size() > prefix.size() ? path.substr(prefix.size()) : std::string();
}

bool same_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view bearer_of(const http::request& req) {
    constexpr std::string_view scheme = "bearer ";
    std::string_view header = req[bhttp::field::authorization];
    if (header.size() < scheme.size()) {
        return {};
    }
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        const char c = header[i];
        if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != scheme[i]) {
            return {};
        }
    }
    header.remove_prefix(scheme.size());
    while (!header.empty() && header.front() == ' ') {
        header.remove_prefix(1);
    }
    return header;
}

}  // namespace

http_api::http_api(registry& events, http::authenticate_hook authenticate,
                   std::string instance_name, switchboard::metrics* counters)
    : events_(events),
      authenticate_(std::move(authenticate)),
      allowed_(events.options().channels),
      instance_name_(std::move(instance_name)),
      counters_(counters) {
    for (const auto& text : events.options().snapshots) {
        // Checked when the flags were read (parse_snapshot_source): a bad one never gets here.
        if (auto source = parse_snapshot_source(text)) {
            snapshots_.push_back({channel_patterns({source->pattern}), std::move(source->url)});
        }
    }
}

bool http_api::start_snapshots(const std::shared_ptr<event_stream>& stream,
                               const std::vector<std::string>& channels, const std::string& user,
                               const http::request& req, std::size_t shard) {
    std::vector<std::pair<std::string, std::string>> wanted;  // channel, URL
    for (const auto& channel : channels) {
        for (const auto& rule : snapshots_) {
            if (rule.pattern.matches(channel, user)) {
                wanted.emplace_back(channel, expand_snapshot_url(rule.url, channel, user));
                break;
            }
        }
    }
    if (wanted.empty()) {
        return false;
    }
    stream->hold();
    struct gathering {
        std::vector<shared_buffer> events;
        std::size_t remaining;
    };
    auto state = std::make_shared<gathering>();
    state->events.resize(wanted.size());
    state->remaining = wanted.size();
    const auto& options = events_.options();
    // Bounded like a publication: a snapshot is one event.
    const std::size_t body_limit = std::max<std::size_t>(options.queue_limit, 64 * 1024);
    for (std::size_t i = 0; i < wanted.size(); ++i) {
        fetch_snapshot(
            events_.executor(shard), wanted[i].second,
            std::string(req[bhttp::field::authorization]), options.snapshot_timeout, body_limit,
            [state, stream, i, channel = wanted[i].first,
             name = options.snapshot_event](expected<std::string> body) {
                if (body) {
                    state->events[i] =
                        make_shared_buffer(format_snapshot_event(name, channel, *body));
                } else {
                    spdlog::warn("events: no snapshot for '{}': {}", channel, body.error_message());
                }
                if (--state->remaining == 0) {
                    std::erase_if(state->events, [](const shared_buffer& b) { return !b; });
                    stream->release(std::move(state->events));
                }
            });
    }
    return true;
}

void http_api::handle_subscribe(http::request& req, const std::shared_ptr<http::exchange>& ex) {
    if (req.method() != bhttp::verb::get) {
        return ex->respond(text(req, bhttp::status::method_not_allowed, "Method Not Allowed"));
    }
    const auto url = boost::urls::parse_origin_form(req.target());
    if (!url) {
        return ex->respond(text(req, bhttp::status::bad_request, "Malformed request target."));
    }
    std::vector<std::string> channels;
    std::string last_event_id(req["Last-Event-ID"]);
    const auto subpath = decoded_subpath(*url, subscribe_prefix);
    if (!subpath.empty()) {
        channels.push_back(subpath.substr(1));  // after the '/'
    }
    for (const auto param : url->params()) {
        if (param.key == "channel" && subpath.empty()) {
            if (channels.size() == max_channels_per_request) {
                return ex->respond(
                    text(req, bhttp::status::bad_request, "At most 64 channels per subscription."));
            }
            channels.emplace_back(param.value);
        } else if (param.key == "lastEventId" && last_event_id.empty()) {
            last_event_id = param.value;
        }
    }
    if (channels.empty()) {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "Name at least one channel: /events/<channel> or "
                                "/events?channel=<channel>."));
    }
    if (!normalize_channels(channels)) {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "Invalid channel name: 1 to 256 bytes of printable ASCII "
                                "without spaces."));
    }

    std::optional<event_id> resume_from;
    if (!last_event_id.empty()) {
        resume_from = parse_event_id(last_event_id);
        if (!resume_from) {
            return ex->respond(
                text(req, bhttp::status::bad_request,
                     "Malformed Last-Event-ID: expected <milliseconds>-<sequence>."));
        }
    }

    std::string user;
    if (authenticate_) {
        auto who = authenticate_(req);
        if (!who) {
            spdlog::debug("events: 401 for {}: {}", ex->remote_address(), who.error_message());
            return ex->respond(text(req, bhttp::status::unauthorized,
                                    "A valid bearer token is required (Authorization header or "
                                    "access_token parameter)."));
        }
        user = who->user_id;
    }
    if (!allowed_.empty()) {
        for (const auto& channel : channels) {
            if (!allowed_.matches(channel, user)) {
                std::string body = "Not allowed to subscribe to channel '";
                body += channel;
                body += "'.";
                return ex->respond(text(req, bhttp::status::forbidden, std::move(body)));
            }
        }
    }

    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, req.version()};
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    // nginx streams the response instead of buffering it.
    head.set("X-Accel-Buffering", "no");
    head.keep_alive(false);
    ex->add_cors_headers(head);
    std::ostringstream serialized;
    serialized << head.base();
    // Snapshots only start a fresh subscription: a resume continues from its last event.
    const auto shard = ex->shard();
    auto stream = std::make_shared<event_stream>(ex->take_stream(), events_, channels, resume_from,
                                                 counters_);
    if (!resume_from) {
        start_snapshots(stream, channels, user, req, shard);
    }
    stream->run(serialized.str());
}

http_api::verdict http_api::may_publish(const http::request& req) const {
    const auto& options = events_.options();
    if (options.open) {
        return verdict::allowed;
    }
    if (options.publish_key.empty() && !authenticate_) {
        return verdict::disabled;
    }
    const auto token = bearer_of(req);
    if (token.empty()) {
        return verdict::unauthorized;
    }
    if (!options.publish_key.empty() && same_secret(token, options.publish_key)) {
        return verdict::allowed;
    }
    if (authenticate_) {
        const auto who = authenticate_(req);
        if (who) {
            return who->in_role(publish_role) ? verdict::allowed : verdict::forbidden;
        }
    }
    return verdict::unauthorized;
}

void http_api::handle_api(http::request& req, const std::shared_ptr<http::exchange>& ex) {
    const auto url = boost::urls::parse_origin_form(req.target());
    if (!url) {
        return ex->respond(text(req, bhttp::status::bad_request, "Malformed request target."));
    }
    const auto subpath = decoded_subpath(*url, api_prefix);
    if (subpath == "/openapi.json" && req.method() == bhttp::verb::get) {
        // Public: it describes the API, it grants nothing.
        auto res = text(req, bhttp::status::ok, std::string(openapi_document()));
        res.set(bhttp::field::content_type, "application/json");
        return ex->respond(std::move(res));
    }
    const bool is_diagnostics = subpath == "/diagnostics" && req.method() == bhttp::verb::get;
    if (!is_diagnostics && req.method() != bhttp::verb::post) {
        return ex->respond(text(req, bhttp::status::method_not_allowed, "Method Not Allowed"));
    }
    switch (may_publish(req)) {
    case verdict::allowed:
        break;
    case verdict::unauthorized:
        return ex->respond(text(req, bhttp::status::unauthorized,
                                "Publishing needs Authorization: Bearer <publish key or JWT "
                                "with role events:publish>."));
    case verdict::forbidden:
        return ex->respond(
            text(req, bhttp::status::forbidden, "The token lacks the role events:publish."));
    case verdict::disabled:
        return ex->respond(text(req, bhttp::status::forbidden,
                                "Publishing is disabled: configure --events-publish-key, JWT "
                                "authentication, or --events-open."));
    }
    if (is_diagnostics) {
        return diagnostics(req, ex);
    }
    publish(req, ex, subpath.empty() ? std::string_view{} : std::string_view(subpath).substr(1));
}

void http_api::publish(http::request& req, const std::shared_ptr<http::exchange>& ex,
                       std::string_view path_channel) {
    json::error_code ec;
    const auto body = json::parse(req.body(), ec);
    const auto* object = ec ? nullptr : body.if_object();
    if (object == nullptr) {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "The body must be a JSON object: {\"type\": ..., \"data\": ...}."));
    }
    const auto* type = object->if_contains("type");
    if (type == nullptr || !type->is_string() || !valid_type(type->get_string())) {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "\"type\" must be 1 to 128 letters, digits or _.-: characters."));
    }
    const auto* data = object->if_contains("data");
    std::string data_json = data == nullptr ? std::string("null") : json::serialize(*data);

    std::vector<std::string> channels;
    bool all = false;
    if (!path_channel.empty()) {
        channels.emplace_back(path_channel);
    } else if (const auto* flag = object->if_contains("all"); flag != nullptr) {
        if (!flag->is_bool() || !flag->get_bool()) {
            return ex->respond(text(req, bhttp::status::bad_request, "\"all\" must be true."));
        }
        all = true;
    } else if (const auto* list = object->if_contains("channels");
               list != nullptr && list->is_array() && !list->get_array().empty()) {
        if (list->get_array().size() > max_channels_per_request) {
            return ex->respond(
                text(req, bhttp::status::bad_request, "At most 64 channels per publication."));
        }
        for (const auto& item : list->get_array()) {
            if (!item.is_string()) {
                return ex->respond(text(req, bhttp::status::bad_request,
                                        "\"channels\" must be an array of strings."));
            }
            channels.emplace_back(item.get_string());
        }
    } else {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "Name the channels: POST /api/events/<channel>, or "
                                "\"channels\": [...] or \"all\": true."));
    }
    if (!normalize_channels(channels)) {
        return ex->respond(text(req, bhttp::status::bad_request,
                                "Invalid channel name: 1 to 256 bytes of printable ASCII "
                                "without spaces."));
    }

    // Answered on this shard once every home shard has assigned its id.
    struct pending {
        std::shared_ptr<http::exchange> ex;
        http::request req;  // version and keep-alive only, for the response
        json::object ids;
        std::size_t waiting = 0;
    };
    auto state = std::make_shared<pending>();
    state->ex = ex;
    state->req.version(req.version());
    state->req.keep_alive(req.keep_alive());
    const auto answer = [](const std::shared_ptr<pending>& done) {
        json::object reply{{"ids", std::move(done->ids)}};
        done->ex->respond(json_response(done->req, bhttp::status::accepted, reply));
    };
    std::string type_name(type->get_string());
    if (all) {
        // Every channel with subscribers here, and on other instances theirs (docs/events.md).
        return events_.publish_all(
            std::move(type_name), std::move(data_json),
            [state, answer](std::vector<std::pair<std::string, event_id>> ids) {
                for (const auto& [channel, id] : ids) {
                    state->ids[channel] = format_event_id(id);
                }
                answer(state);
            });
    }
    state->waiting = channels.size();
    for (const auto& channel : channels) {
        events_.publish(channel, type_name, data_json,
                        [this, origin = ex->shard(), state, answer, channel](event_id id) {
                            boost::asio::post(events_.executor(origin),
                                              [state, answer, channel, id] {
                                                  state->ids[channel] = format_event_id(id);
                                                  if (--state->waiting == 0) {
                                                      answer(state);
                                                  }
                                              });
                        });
    }
}

void http_api::diagnostics(http::request& req, const std::shared_ptr<http::exchange>& ex) {
    auto head = std::make_shared<http::request>();
    head->version(req.version());
    head->keep_alive(req.keep_alive());
    events_.local_channels([this, ex, head](const std::vector<channel_count>& counts) {
        json::array local;
        for (const auto& count : counts) {
            local.push_back(
                json::object{{"channel", count.channel}, {"subscribers", count.subscribers}});
        }
        json::object reply{
            {"instance", instance_name_},
            {"channels", counts.size()},
            {"subscribers",
             counters_ != nullptr ? counters_->events_subscribers.value() : std::int64_t{0}},
            {"local", std::move(local)}};
        ex->respond(json_response(*head, bhttp::status::ok, reply));
    });
}

}  // namespace switchboard::events
