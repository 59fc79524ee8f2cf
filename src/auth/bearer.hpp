// Bearer-token authentication of hub requests: the JWT validator as a transport hook.
#pragma once

#include "auth/auth_options.hpp"
#include "auth/jwt.hpp"
#include "http/authenticate.hpp"
#include "http/server.hpp"

#include <memory>
#include <optional>
#include <string>

namespace switchboard::auth {

// The request's token: `Authorization: Bearer <t>` (negotiate, long polling, sends), else the
// `access_token` query parameter, which is how the JS client sends it where it cannot set
// headers (WebSockets and SSE in browsers). A header of another scheme is ignored.
std::optional<std::string> bearer_token(const http::request& req);

// What hubs and policies see of a validated token: user id, roles, every claim, expiry.
switchboard::identity to_identity(principal who);

// Validates each request's bearer token with `validator` against the system clock; the
// identity is the token's user id and roles.
http::authenticate_hook make_jwt_authenticator(std::shared_ptr<const jwt_validator> validator);

// At startup: the validator the options describe (keys read from their files), or null when no
// key is configured. Throws std::runtime_error naming the flag and the problem otherwise.
std::shared_ptr<const jwt_validator> make_jwt_validator(const auth_options& options);

}  // namespace switchboard::auth
