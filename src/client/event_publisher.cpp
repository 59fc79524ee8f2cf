#include "client/event_publisher.hpp"

#include "client/transport/http_request.hpp"
#include "client/transport/tls_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

namespace switchboard::client {

event_publisher::event_publisher(std::string server_url, event_publisher_options options)
    : server_url_(std::move(server_url)), options_(std::move(options)) {}

event_publisher::~event_publisher() = default;

expected<std::map<std::string, std::string>> event_publisher::publish(
    const event_publication& event) {
    auto parsed = boost::urls::parse_uri(server_url_);
    if (!parsed) {
        return make_error("invalid server URL '" + server_url_ + "': " + parsed.error().message());
    }
    boost::urls::url url = *parsed;
    if (url.scheme() != "http" && url.scheme() != "https") {
        return make_error("the server URL must be http or https: " + server_url_);
    }
    if (url.scheme() == "https" && !tls_) {
        auto tls = detail::make_client_tls_context(options_.verify_certificate, options_.ca_file);
        if (!tls) {
            return tls.get_error();
        }
        tls_ = std::move(*tls);
    }

    boost::json::object body{{"type", event.type}, {"data", event.data}};
    std::string path(url.encoded_path());
    while (!path.empty() && path.back() == '/') {
        path.pop_back();
    }
    if (event.all) {
        body["all"] = true;
        path += "/api/events";
    } else if (event.channels.size() == 1) {
        // The path form: the channel percent-encoded as one segment.
        url.set_path(path + "/api/events");
        url.segments().push_back(event.channels.front());
        path.clear();
    } else {
        boost::json::array channels;
        for (const auto& channel : event.channels) {
            channels.emplace_back(channel);
        }
        body["channels"] = std::move(channels);
        path += "/api/events";
    }
    if (!path.empty()) {
        url.set_path(path);
    }

    boost::asio::io_context context;
    detail::http_context http;
    http.executor = context.get_executor();
    http.tls = tls_;
    http.headers = {{"User-Agent", "switchboard-event-publisher"}};
    if (!options_.token.empty()) {
        http.access_token = options_.token;
    }
    detail::http_request request;
    request.method = boost::beast::http::verb::post;
    request.url = std::move(url);
    request.body = boost::json::serialize(body);
    request.content_type = "application/json";
    request.timeout = options_.timeout;
    request.body_limit = 1024 * 1024;

    std::optional<expected<detail::http_response>> outcome;
    detail::send_http_request(
        http, std::move(request),
        [&outcome](expected<detail::http_response> response) { outcome = std::move(response); });
    context.run();
    if (!outcome) {
        return make_error("the request ended without an answer");
    }
    if (!*outcome) {
        return outcome->get_error();
    }
    const auto& response = **outcome;
    if (response.status < 200 || response.status >= 300) {
        std::string message = "the server answered " + std::to_string(response.status);
        if (!response.body.empty()) {
            message.append(": ").append(response.body);
        } else if (!response.reason.empty()) {
            message.append(" ").append(response.reason);
        }
        return make_error(std::move(message));
    }
    std::map<std::string, std::string> ids;
    boost::system::error_code ec;
    const auto answer = boost::json::parse(response.body, ec);
    const auto* object = ec ? nullptr : answer.if_object();
    const auto* id_map = object != nullptr ? object->if_contains("ids") : nullptr;
    if (id_map != nullptr && id_map->is_object()) {
        for (const auto& [channel, id] : id_map->get_object()) {
            if (id.is_string()) {
                ids.emplace(std::string(channel), std::string(id.get_string()));
            }
        }
    }
    return ids;
}

}  // namespace switchboard::client
