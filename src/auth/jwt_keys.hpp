// JWT verification keys: HMAC secrets, PEM public keys and certificates, JWK sets, each
// classified into the one algorithm it may verify.
#pragma once

#include "core/expected.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

// OpenSSL's EVP_PKEY, forward-declared so that including this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace switchboard::auth {

// One verification key. The kind fixes the only algorithm it verifies (hmac: HS256, rsa: RS256,
// ec: ES256 on P-256), which is what refuses algorithm confusion: a token's alg picks the kind
// first, so an HS256 token is never checked against the bytes of an RSA key.
struct jwt_key {
    enum class kind { hmac, rsa, ec };

    kind type = kind::hmac;
    // Matched against the token's `kid` header; empty: this key serves tokens with any kid.
    std::string key_id;
    // hmac only: the shared secret.
    std::string secret;
    // rsa and ec only: the public key (immutable once loaded, so shared between validators).
    std::shared_ptr<evp_pkey_st> public_key;
};

// The JWS alg a key kind verifies: "HS256", "RS256" or "ES256".
std::string_view algorithm_of(jwt_key::kind type) noexcept;

// An HMAC key from a configured secret (the raw bytes, not base64). RFC 7518 3.2 requires a key
// at least as long as the hash, so secrets shorter than 32 bytes are refused.
expected<jwt_key> load_hmac_secret(std::string secret, std::string key_id = {});
// An RSA (2048 bits or more) or P-256 public key from PEM: "BEGIN PUBLIC KEY" or a certificate.
expected<jwt_key> load_pem_public_key(std::string_view pem, std::string key_id = {});
// The signing keys of a JWK set ({"keys": [...]}): kty RSA (n, e), EC (crv P-256, x, y) and oct
// (k). Keys for encryption (`use` other than "sig"), for other algorithms (`alg` set and not the
// one of their kind) or of other types are skipped, as an identity provider's set may hold them;
// a set with no usable key is an error.
expected<std::vector<jwt_key>> load_jwks(std::string_view json);

}  // namespace switchboard::auth
