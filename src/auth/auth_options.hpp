// JWT bearer authentication settings: keys, issuer and audience checks, claim mapping, policies.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace switchboard {

// JWT bearer authentication of every hub endpoint (issue #5). Any key (secret, PEM public key,
// JWKS) turns it on; without one the server runs in development mode (user ids from ?user=).
struct auth_options {
    // HS256 shared secret, raw bytes; at least 32 (RFC 7518 3.2), checked at startup.
    std::string jwt_secret;
    // RS256/ES256: a PEM public key or certificate of the issuer.
    std::string jwt_public_key_file;
    // A JWK set as an identity provider publishes it (saved to a file: no fetching at runtime).
    std::string jwks_file;
    // Empty: not checked. Set them whenever the issuer sets them: a token for another
    // application signed by the same key is then refused.
    std::string issuer;
    std::string audience;
    // Tolerance on exp and nbf: a minute, auth::jwt_options' default (see its reasoning there);
    // main() copies that default so the two cannot drift.
    std::chrono::milliseconds clock_skew{60'000};
    // Empty: auth::jwt_options' lists (sub, nameid, ... / role, roles, ...).
    std::vector<std::string> user_claims;
    std::vector<std::string> role_claims;
    // `--authorize` rules, "HUB=REQUIREMENTS" or "HUB.METHOD=REQUIREMENTS" (auth/policy.hpp).
    std::vector<std::string> policies;

    [[nodiscard]] bool enabled() const {
        return !jwt_secret.empty() || !jwt_public_key_file.empty() || !jwks_file.empty();
    }
};

}  // namespace switchboard
