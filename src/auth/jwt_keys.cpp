#include "auth/jwt_keys.hpp"

#include "auth/jwt_detail.hpp"
#include "core/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>
#include <utility>

namespace switchboard::auth {
namespace {

namespace json = boost::json;
using namespace detail;

// RFC 7518 3.2 (HS256 key at least the hash size) and 3.3 (RSA keys of 2048 bits or more).
constexpr std::size_t min_hmac_secret = 32;
constexpr int min_rsa_bits = 2048;

// Classifies a loaded public key, refusing what the three algorithms cannot use.
expected<jwt_key> classify(EVP_PKEY* raw, std::string key_id) {
    auto key = share(raw);
    jwt_key result;
    result.key_id = std::move(key_id);
    switch (EVP_PKEY_get_base_id(raw)) {
    case EVP_PKEY_RSA: {
        const int bits = EVP_PKEY_get_bits(raw);
        if (bits < min_rsa_bits) {
            return make_error("RSA key is " + std::to_string(bits) +
                              " bits; RS256 needs at least 2048");
        }
        result.type = jwt_key::kind::rsa;
        break;
    }
    case EVP_PKEY_EC: {
        std::array<char, 64> group{};
        std::size_t length = 0;
        if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                           group.size(), &length) != 1 ||
            std::string_view(group.data(), length) != "prime256v1") {
            return make_error("EC key is not on curve P-256 (the only one ES256 uses)");
        }
        result.type = jwt_key::kind::ec;
        break;
    }
    default:
        return make_error("public key is neither RSA nor EC P-256");
    }
    result.public_key = std::move(key);
    return result;
}
std::unique_ptr<BIGNUM, bn_deleter> to_bignum(const std::string& bytes) {
    return std::unique_ptr<BIGNUM, bn_deleter>(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                  static_cast<int>(bytes.size()), nullptr));
}

expected<jwt_key> jwk_from_params(const char* type, OSSL_PARAM_BLD* builder, std::string kid) {
    std::unique_ptr<OSSL_PARAM, params_deleter> params(OSSL_PARAM_BLD_to_param(builder));
    std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_deleter> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 ||
        key == nullptr) {
        ERR_clear_error();
        return make_error("the key parameters do not form a valid public key");
    }
    auto loaded = classify(key, std::move(kid));
    if (loaded && loaded->type == jwt_key::kind::ec) {
        // Refuse points off the curve (invalid-curve attacks) even if the import let one pass.
        std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_deleter> check(
            EVP_PKEY_CTX_new_from_pkey(nullptr, loaded->public_key.get(), nullptr));
        if (!check || EVP_PKEY_public_check(check.get()) != 1) {
            ERR_clear_error();
            return make_error("the EC point is not on curve P-256");
        }
    }
    return loaded;
}

expected<std::optional<std::string>> jwk_member(const json::object& jwk, std::string_view name) {
    const auto* value = string_member(jwk, name);
    if (value == nullptr) {
        return make_error(std::string(name) + " is missing or not a string");
    }
    auto bytes = base64url_decode(*value);
    if (!bytes || bytes->empty()) {
        return make_error(std::string(name) + " is not valid base64url");
    }
    return std::optional<std::string>(std::move(*bytes));
}

// One JWK: a key, nullopt when it is not for us (see load_jwks), or why it is malformed.
expected<std::optional<jwt_key>> load_jwk(const json::object& jwk) {
    const auto* kty = string_member(jwk, "kty");
    if (kty == nullptr) {
        return make_error("kty is missing");
    }
    std::string kid;
    if (const auto* value = string_member(jwk, "kid")) {
        kid = std::string(*value);
    }
    const auto* use = string_member(jwk, "use");
    if (use != nullptr && *use != "sig") {
        return std::optional<jwt_key>{};
    }
    const auto* alg = string_member(jwk, "alg");
    const auto wrong_alg = [&](jwt_key::kind kind) {
        return alg != nullptr && *alg != algorithm_of(kind);
    };
    if (*kty == "RSA") {
        if (wrong_alg(jwt_key::kind::rsa)) {
            return std::optional<jwt_key>{};
        }
        auto n = jwk_member(jwk, "n");
        auto e = jwk_member(jwk, "e");
        if (!n) {
            return n.get_error();
        }
        if (!e) {
            return e.get_error();
        }
        auto n_bn = to_bignum(**n);
        auto e_bn = to_bignum(**e);
        std::unique_ptr<OSSL_PARAM_BLD, param_bld_deleter> builder(OSSL_PARAM_BLD_new());
        if (!n_bn || !e_bn || !builder ||
            OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
            return make_error("out of memory building the RSA key");
        }
        auto key = jwk_from_params("RSA", builder.get(), std::move(kid));
        if (!key) {
            return key.get_error();
        }
        return std::optional<jwt_key>(std::move(*key));
    }
    if (*kty == "EC") {
        if (wrong_alg(jwt_key::kind::ec)) {
            return std::optional<jwt_key>{};
        }
        const auto* crv = string_member(jwk, "crv");
        if (crv == nullptr || *crv != "P-256") {
            // ES384/ES512 keys may share the set; they are not for us.
            return std::optional<jwt_key>{};
        }
        auto x = jwk_member(jwk, "x");
        auto y = jwk_member(jwk, "y");
        if (!x) {
            return x.get_error();
        }
        if (!y) {
            return y.get_error();
        }
        if ((*x)->size() != 32 || (*y)->size() != 32) {
            return make_error("x and y must be 32 bytes each for P-256");
        }
        // The uncompressed point encoding (SEC 1 2.3.3): 0x04 || x || y.
        std::string point = "\x04" + **x + **y;
        std::unique_ptr<OSSL_PARAM_BLD, param_bld_deleter> builder(OSSL_PARAM_BLD_new());
        if (!builder ||
            OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
                                            0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                             point.size()) != 1) {
            return make_error("out of memory building the EC key");
        }
        auto key = jwk_from_params("EC", builder.get(), std::move(kid));
        if (!key) {
            return key.get_error();
        }
        return std::optional<jwt_key>(std::move(*key));
    }
    if (*kty == "oct") {
        if (wrong_alg(jwt_key::kind::hmac)) {
            return std::optional<jwt_key>{};
        }
        auto k = jwk_member(jwk, "k");
        if (!k) {
            return k.get_error();
        }
        auto key = load_hmac_secret(std::move(**k), std::move(kid));
        if (!key) {
            return key.get_error();
        }
        return std::optional<jwt_key>(std::move(*key));
    }
    return std::optional<jwt_key>{};
}

}  // namespace

std::string_view algorithm_of(jwt_key::kind type) noexcept {
    switch (type) {
    case jwt_key::kind::hmac:
        return "HS256";
    case jwt_key::kind::rsa:
        return "RS256";
    case jwt_key::kind::ec:
        return "ES256";
    }
    return "?";
}
expected<jwt_key> load_hmac_secret(std::string secret, std::string key_id) {
    if (secret.size() < min_hmac_secret) {
        return make_error("HMAC secret is " + std::to_string(secret.size()) +
                          " bytes; HS256 needs at least 32 (RFC 7518 3.2)");
    }
    jwt_key key;
    key.type = jwt_key::kind::hmac;
    key.key_id = std::move(key_id);
    key.secret = std::move(secret);
    return key;
}

expected<jwt_key> load_pem_public_key(std::string_view pem, std::string key_id) {
    std::unique_ptr<BIO, bio_deleter> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        return make_error("out of memory reading the PEM key");
    }
    if (EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)) {
        return classify(key, std::move(key_id));
    }
    // Not a SubjectPublicKeyInfo: perhaps the issuer's certificate.
    ERR_clear_error();
    bio.reset(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::unique_ptr<X509, x509_deleter> cert(
        bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (cert) {
        if (EVP_PKEY* key = X509_get_pubkey(cert.get())) {
            return classify(key, std::move(key_id));
        }
    }
    ERR_clear_error();
    return make_error(
        "no PEM public key found (expected '-----BEGIN PUBLIC KEY-----' or a certificate)");
}

expected<std::vector<jwt_key>> load_jwks(std::string_view text) {
    json::error_code ec;
    const json::value value = json::parse(text, ec);
    if (ec) {
        return make_error("JWKS is not valid JSON: " + ec.message());
    }
    const auto* set = value.if_object();
    const auto* keys = set != nullptr ? set->if_contains("keys") : nullptr;
    if (keys == nullptr || !keys->is_array()) {
        return make_error("JWKS has no \"keys\" array");
    }
    std::vector<jwt_key> result;
    std::size_t index = 0;
    for (const auto& entry : keys->get_array()) {
        if (!entry.is_object()) {
            return make_error("JWKS key " + std::to_string(index) + " is not an object");
        }
        auto key = load_jwk(entry.get_object());
        if (!key) {
            std::string where = "JWKS key " + std::to_string(index);
            if (const auto* kid = string_member(entry.get_object(), "kid")) {
                where += " (kid " + quote(*kid) + ")";
            }
            return make_error(where + ": " + key.error_message());
        }
        if (*key) {
            result.push_back(std::move(**key));
        }
        ++index;
    }
    if (result.empty()) {
        return make_error("JWKS has no usable signing key (RSA, EC P-256 or oct)");
    }
    return result;
}
}  // namespace switchboard::auth
