// JWT bearer tokens (issue #5): HS256/RS256/ES256 validation into a principal, and dev tokens.
#pragma once

#include "auth/jwt_keys.hpp"
#include "core/expected.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::auth {

struct jwt_options {
    // A token's alg must match a key's kind; when the token names a kid, only keys with that
    // key_id (or with none) are tried.
    std::vector<jwt_key> keys;
    // Empty: `iss` is not checked. Otherwise the token's `iss` must equal it.
    std::string issuer;
    // Empty: `aud` is not checked. Otherwise `aud` (a string or an array of strings) must hold it.
    std::string audience;
    // Tolerance for clocks of issuer and server that disagree, applied to exp and nbf. NTP keeps
    // hosts within a second; a minute covers badly synced ones while an expired token stays
    // usable for at most a minute (ASP.NET's 5 minutes is generous for tokens that often last
    // only an hour).
    std::chrono::seconds clock_skew{60};
    // ASP.NET's RequireExpirationTime is true by default as well: a token without exp never
    // expires, which a leaked token must not do.
    bool require_expiration = true;
    // The user id is the first of these claims that holds a non-empty string: the JWT standard
    // claim, then the two names .NET issuers write (JwtRegisteredClaimNames / ClaimTypes).
    // Service tokens (the REST API's access-key tokens) need not name a user.
    bool require_user = true;
    std::vector<std::string> user_claims{
        "sub", "nameid", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"};
    // Roles come from all of these (a string or an array of strings each): `role` as .NET's
    // JwtSecurityTokenHandler writes it, `roles` as Entra ID (Azure AD) does, and the long
    // ClaimTypes.Role name.
    std::vector<std::string> role_claims{
        "role", "roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"};
    // Tokens arrive in the Authorization header or, for WebSockets and SSE, in the access_token
    // query parameter; proxies commonly cap a request line or a header at 8 KB (nginx's
    // large_client_header_buffers), so nothing larger could arrive intact anyway. It also bounds
    // the work (base64, JSON) an unauthenticated peer can make us do per request.
    std::size_t max_token_size = 8192;
};

// Who a valid token speaks for.
struct principal {
    std::string user_id;
    std::vector<std::string> roles;  // deduplicated, in the order the claims list them
    boost::json::object claims;      // the whole payload, for hubs that want more
    std::optional<std::chrono::system_clock::time_point> expires;  // from exp, when present
};

// Validates compact JWS tokens against fixed keys. Immutable after construction, so one
// instance serves every shard concurrently.
class jwt_validator {
public:
    explicit jwt_validator(jwt_options options);

    // The error message says exactly what is wrong (it is logged and may reach the client);
    // it never contains key material, and parts quoted from the token are truncated.
    [[nodiscard]] expected<principal> validate(std::string_view token,
                                               std::chrono::system_clock::time_point now) const;

    [[nodiscard]] const jwt_options& options() const noexcept { return options_; }

private:
    jwt_options options_;
};

// A signed HS256 token with these claims, for development (`switchboard token`) and tests. The
// caller sets exp; the secret is used as is.
std::string issue_hs256(const boost::json::object& claims, std::string_view secret);

}  // namespace switchboard::auth
