#include "routes.hpp"

#include "core/ascii.hpp"
#include "payloads.hpp"

#include "core/base64.hpp"
#include "core/random.hpp"
#include "core/shared_buffer.hpp"
#include "http/stream.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>

namespace conformance {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && to_lower(a) == to_lower(b);
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, std::min(target.find('?'), target.size()));
}

// The first value of a query parameter (decoded, case-insensitive name).
std::optional<std::string> query_value(std::string_view target, std::string_view name) {
    const auto url = boost::urls::parse_origin_form(target);
    if (!url) {
        return std::nullopt;
    }
    for (const auto param : url->params()) {
        if (param.has_value && ascii_iequals(param.key, name)) {
            return std::string(param.value);
        }
    }
    return std::nullopt;
}

http::response make_response(const http::exchange& ex, bhttp::status status,
                             std::string_view content_type, std::string body) {
    http::response res{status, ex.version()};
    res.set(bhttp::field::content_type, content_type);
    res.keep_alive(ex.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// Forwards everything to the real exchange; responses gain the negotiate cookies.
class cookie_exchange final : public http::exchange {
public:
    explicit cookie_exchange(std::shared_ptr<http::exchange> inner) : inner_(std::move(inner)) {}

    void respond(http::response res) override {
        res.insert(bhttp::field::set_cookie, "testCookie=testValue; path=/");
        res.insert(bhttp::field::set_cookie, "testCookie2=testValue2; path=/");
        res.insert(bhttp::field::set_cookie,
                   "expiredCookie=doesntmatter; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/");
        inner_->respond(std::move(res));
    }
    http::stream take_stream() override { return inner_->take_stream(); }
    void add_cors_headers(bhttp::fields& fields) override { inner_->add_cors_headers(fields); }
    [[nodiscard]] unsigned version() const override { return inner_->version(); }
    [[nodiscard]] bool keep_alive() const override { return inner_->keep_alive(); }
    [[nodiscard]] std::size_t shard() const override { return inner_->shard(); }
    [[nodiscard]] const std::string& remote_address() const override {
        return inner_->remote_address();
    }

private:
    std::shared_ptr<http::exchange> inner_;
};

// A raw connection's application: whatever arrives goes straight back.
class echo_application final : public transport::connection_application {
public:
    explicit echo_application(const transport::connection_ptr& connection)
        : connection_(connection) {}

    void on_received(std::string_view bytes) override {
        if (const auto connection = connection_.lock()) {
            connection->send(switchboard::make_shared_buffer(std::string(bytes)));
        }
    }
    void on_transport_closed() override {}

private:
    std::weak_ptr<transport::connection> connection_;
};

}  // namespace

std::string token_issuer::issue() {
    const auto issued_at = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const json::object claims{{"nameid", user_id}, {"iat", issued_at}};
    std::string token = switchboard::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                        switchboard::base64url_encode(json::serialize(claims)) + "." +
                        switchboard::make_random_id() + switchboard::make_random_id();
    const std::lock_guard lock(mutex_);
    tokens_.insert(token);
    order_.push_back(token);
    if (order_.size() > max_tokens) {
        tokens_.erase(order_.front());
        order_.pop_front();
    }
    return token;
}

bool token_issuer::valid(std::string_view token) const {
    const std::lock_guard lock(mutex_);
    return tokens_.contains(std::string(token));
}

switchboard::expected<switchboard::identity> token_issuer::authenticate(
    const http::request& req) const {
    const auto token = bearer_token(req);
    if (!token) {
        return switchboard::make_error("no bearer token");
    }
    if (!valid(*token)) {
        return switchboard::make_error("token not issued by /generateJwtToken");
    }
    return switchboard::identity{std::string(user_id), {}, {}, {}};
}

std::optional<std::string> token_issuer::bearer_token(const http::request& req) {
    constexpr std::string_view scheme = "Bearer ";
    const std::string_view header = req[bhttp::field::authorization];
    if (header.size() > scheme.size() && ascii_iequals(header.substr(0, scheme.size()), scheme)) {
        return std::string(header.substr(scheme.size()));
    }
    return query_value(req.target(), "access_token");
}

transport::application_factory make_echo_application() {
    return [](const transport::connection_ptr& connection) {
        return std::make_shared<echo_application>(connection);
    };
}

http::prefix_handler with_negotiate_cookies(http::prefix_handler handler) {
    return [handler = std::move(handler)](http::request& req, std::string_view subpath,
                                          std::shared_ptr<http::exchange> ex) {
        if (to_lower(path_of(req.target())).find("/negotiate") != std::string::npos) {
            ex = std::make_shared<cookie_exchange>(std::move(ex));
        }
        handler(req, subpath, std::move(ex));
    };
}

http::prefix_handler hub_route(std::shared_ptr<transport::endpoint> endpoint) {
    return with_negotiate_cookies(
        [endpoint = std::move(endpoint)](http::request& req, std::string_view subpath,
                                         std::shared_ptr<http::exchange> ex) {
            endpoint->handle(req, subpath, std::move(ex));
        });
}

http::prefix_handler token_route(std::shared_ptr<token_issuer> tokens) {
    return with_negotiate_cookies([tokens = std::move(tokens)](http::request&, std::string_view,
                                                               std::shared_ptr<http::exchange> ex) {
        ex->respond(make_response(*ex, bhttp::status::ok, "text/plain", tokens->issue()));
    });
}

http::prefix_handler redirect_route(std::shared_ptr<std::atomic<int>> redirects) {
    return with_negotiate_cookies(
        [redirects = std::move(redirects)](http::request& req, std::string_view,
                                           std::shared_ptr<http::exchange> ex) {
            const auto base = query_value(req.target(), "baseUrl").value_or("");
            const json::object body{
                {"url", base + "/testHub?numRedirects=" + std::to_string(redirects->fetch_add(1))}};
            ex->respond(
                make_response(*ex, bhttp::status::ok, "application/json", json::serialize(body)));
        });
}

http::prefix_handler echo_redirect_route() {
    return with_negotiate_cookies(
        [](http::request& req, std::string_view, std::shared_ptr<http::exchange> ex) {
            constexpr std::string_view from = "echoredirect";
            const std::string_view target = req.target();
            const std::string_view path = path_of(target);
            const auto at = to_lower(path).find(from);
            std::string location(path.substr(0, at));
            location += "echo";
            location += target.substr(at + from.size());  // the rest of the path, and the query
            auto res = make_response(*ex, bhttp::status::temporary_redirect, "text/plain", "");
            res.set(bhttp::field::location, location);
            ex->respond(std::move(res));
        });
}

http::prefix_handler bad_negotiate_route() {
    return with_negotiate_cookies(
        [](http::request&, std::string_view, std::shared_ptr<http::exchange> ex) {
            ex->respond(make_response(*ex, bhttp::status::bad_request, "text/plain",
                                      "Some response from server"));
        });
}

http::prefix_handler client_result_route(std::shared_ptr<const caller_registry> callers) {
    return [callers = std::move(callers)](http::request& req, std::string_view subpath,
                                          std::shared_ptr<http::exchange> ex) {
        // `subpath` is lower-cased; the id is case-sensitive, so take it from the target.
        const std::string_view path = path_of(req.target());
        std::string id(path.substr(path.size() - subpath.size()));
        if (!id.empty() && id.front() == '/') {
            id.erase(0, 1);
        }
        const auto answer = [ex](std::string text) {
            ex->respond(make_response(*ex, bhttp::status::ok, "text/plain", std::move(text)));
        };
        const auto caller = callers->find(id);
        if (!caller) {
            return answer("Connection '" + id + "' does not exist.");
        }
        caller->invoke_client(id, "Result", {}, std::chrono::seconds(30),
                              [answer](switchboard::expected<json::value> result) {
                                  if (!result) {
                                      return answer(result.error_message());
                                  }
                                  const auto number = json::try_value_to<int>(*result);
                                  if (!number) {
                                      return answer("Error trying to deserialize result to Int32.");
                                  }
                                  answer(std::to_string(*number));
                              });
    };
}

}  // namespace conformance
