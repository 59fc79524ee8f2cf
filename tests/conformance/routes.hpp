// The HTTP side of the functional-test server: the raw /echo connection, the token issuer
// behind /generateJwtToken and /authorizedhub, negotiate cookies, redirects and client results.
#pragma once

#include "test_hubs.hpp"

#include "http/server.hpp"
#include "transport/endpoint.hpp"

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace conformance {

namespace http = switchboard::http;
namespace transport = switchboard::transport;

// Hands out bearer tokens and recognises them. A token looks like a JWT (header.payload.
// signature, claim nameid=testuser) but is checked by lookup, not by signature: clients treat
// tokens as opaque, and the tests only need "a token from /generateJwtToken is accepted".
// Thread safety: any thread.
class token_issuer {
public:
    static constexpr std::string_view user_id = "testuser";

    std::string issue();
    [[nodiscard]] bool valid(std::string_view token) const;
    // The endpoint's authenticate hook: a request carrying a token issued here is "testuser".
    [[nodiscard]] switchboard::expected<switchboard::identity> authenticate(
        const http::request& req) const;
    // `Authorization: Bearer <token>`, else the `access_token` query parameter (what browsers
    // and the SSE transport send).
    static std::optional<std::string> bearer_token(const http::request& req);

private:
    static constexpr std::size_t max_tokens = 10'000;  // the oldest are forgotten beyond this
    mutable std::mutex mutex_;
    std::unordered_set<std::string> tokens_;
    std::deque<std::string> order_;
};

// /echo: a connection without the hub protocol that sends every received chunk back.
transport::application_factory make_echo_application();

// Any response to a path containing "/negotiate" sets testCookie, testCookie2 and an already
// expired expiredCookie, like the ASP.NET test server's middleware.
http::prefix_handler with_negotiate_cookies(http::prefix_handler handler);

// A hub endpoint routed by the app.
http::prefix_handler hub_route(std::shared_ptr<transport::endpoint> endpoint);

// GET /generateJwtToken: a fresh token as text.
http::prefix_handler token_route(std::shared_ptr<token_issuer> tokens);
// /redirect...: a negotiate redirect to `<baseUrl>/testHub?numRedirects=<n++>`.
http::prefix_handler redirect_route(std::shared_ptr<std::atomic<int>> redirects);
// /echoredirect...: 307 to the same path and query with "echoredirect" replaced by "echo".
http::prefix_handler echo_redirect_route();
// /bad-negotiate...: 400 "Some response from server".
http::prefix_handler bad_negotiate_route();
// GET /clientresult/{connectionId}: asks that caller for "Result" and answers its value as text,
// or the error message.
http::prefix_handler client_result_route(std::shared_ptr<const caller_registry> callers);

}  // namespace conformance
