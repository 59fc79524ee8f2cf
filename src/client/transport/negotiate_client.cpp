#include "client/transport/negotiate_client.hpp"

#include "client/transport/http_request.hpp"

#include <boost/url/parse.hpp>

#include <memory>

namespace switchboard::client::detail {

namespace {

// The official clients give up after this many redirects.
constexpr int max_redirects = 100;

// <hub path>/negotiate with the hub's query, negotiateVersion=1 unless the caller chose one.
boost::urls::url negotiate_url(const boost::urls::url& hub_url, bool stateful_reconnect) {
    boost::urls::url url = hub_url;
    std::string path(url.encoded_path());
    if (path.empty() || path.back() != '/') {
        path += '/';
    }
    url.set_encoded_path(path + "negotiate");
    url.remove_fragment();
    if (!url.params().contains("negotiateVersion")) {
        url.params().append({"negotiateVersion", "1"});
    }
    if (stateful_reconnect) {
        url.params().append({"useStatefulReconnect", "true"});
    }
    return url;
}

// One connection attempt's negotiation, from redirect to redirect.
class negotiation_run : public std::enable_shared_from_this<negotiation_run> {
public:
    negotiation_run(const http_context& context, bool stateful_reconnect,
                    std::function<void(expected<negotiation>)> handler)
        : context_(context),
          stateful_reconnect_(stateful_reconnect),
          handler_(std::move(handler)) {}

    void do_negotiate(boost::urls::url hub_url) {
        hub_url_ = std::move(hub_url);
        http_request request;
        request.method = boost::beast::http::verb::post;
        request.url = negotiate_url(hub_url_, stateful_reconnect_);
        request.timeout = context_.request_timeout;
        request.body_limit = context_.max_message_size;
        send_http_request(context_, std::move(request),
                          [self = shared_from_this()](expected<http_response> response) {
                              self->on_negotiate(std::move(response));
                          });
    }

private:
    void on_negotiate(expected<http_response> response) {
        constexpr std::string_view failed = "Failed to complete negotiation with the server: ";
        if (!response) {
            return handler_(make_error(std::string(failed) + response.error_message()));
        }
        if (response->status != 200) {
            // The JS client's wording: the body, or the reason phrase when there is none.
            return handler_(make_error(
                std::string(failed) + (response->body.empty() ? response->reason : response->body) +
                ": Status code '" + std::to_string(response->status) + "'"));
        }
        auto parsed = parse_negotiate_response(response->body);
        if (!parsed) {
            return handler_(parsed.get_error());
        }
        if (!parsed->url) {
            return handler_(
                negotiation{std::move(hub_url_), context_.access_token, std::move(*parsed)});
        }
        if (++redirects_ >= max_redirects) {
            return handler_(make_error("Negotiate redirection limit exceeded."));
        }
        auto next = boost::urls::parse_uri(*parsed->url);
        if (!next) {
            return handler_(make_error("Invalid negotiate redirect URL '" + *parsed->url + "'."));
        }
        if (parsed->access_token) {
            context_.access_token = std::move(parsed->access_token);
        }
        do_negotiate(boost::urls::url(*next));
    }

    http_context context_;
    bool stateful_reconnect_;
    std::function<void(expected<negotiation>)> handler_;
    boost::urls::url hub_url_;
    int redirects_ = 0;
};

}  // namespace

void negotiate(const http_context& context, boost::urls::url hub_url, bool stateful_reconnect,
               std::function<void(expected<negotiation>)> handler) {
    std::make_shared<negotiation_run>(context, stateful_reconnect, std::move(handler))
        ->do_negotiate(std::move(hub_url));
}

}  // namespace switchboard::client::detail
