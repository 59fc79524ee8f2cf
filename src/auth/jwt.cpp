#include "auth/jwt.hpp"

#include "core/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <utility>

namespace switchboard::auth {
namespace {

namespace json = boost::json;
using clock_type = std::chrono::system_clock;

// RFC 7518 3.2 (HS256 key at least the hash size) and 3.3 (RSA keys of 2048 bits or more).
constexpr std::size_t min_hmac_secret = 32;
constexpr int min_rsa_bits = 2048;
// Parts of the token quoted in errors are cut here: enough to recognise a value, not enough to
// let a client fill the server log.
constexpr std::size_t max_quoted = 64;
// NumericDate beyond this (year ~33000) is treated as malformed, keeping the arithmetic exact.
constexpr double max_numeric_date = 1e12;

struct pkey_deleter {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct md_ctx_deleter {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
struct bio_deleter {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct bn_deleter {
    void operator()(BIGNUM* bn) const noexcept { BN_free(bn); }
};
struct ecdsa_sig_deleter {
    void operator()(ECDSA_SIG* sig) const noexcept { ECDSA_SIG_free(sig); }
};
struct pkey_ctx_deleter {
    void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
struct param_bld_deleter {
    void operator()(OSSL_PARAM_BLD* bld) const noexcept { OSSL_PARAM_BLD_free(bld); }
};
struct params_deleter {
    void operator()(OSSL_PARAM* params) const noexcept { OSSL_PARAM_free(params); }
};
struct x509_deleter {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};

std::shared_ptr<evp_pkey_st> share(EVP_PKEY* key) {
    return std::shared_ptr<evp_pkey_st>(key, pkey_deleter{});
}

// A token-supplied string, safe to log: printable ASCII only, truncated.
std::string quote(std::string_view text) {
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < max_quoted; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    if (text.size() > max_quoted) {
        out += "...";
    }
    out += '\'';
    return out;
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        if (!out.empty()) {
            out += ", ";
        }
        out += name;
    }
    return out;
}

std::string format_time(std::int64_t seconds) {
    const auto t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    if (gmtime_r(&t, &tm) == nullptr) {
        return std::to_string(seconds);
    }
    std::array<char, 32> buffer{};
    const auto length = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buffer.data(), length);
}

// A JSON object from base64url text, or why not.
expected<json::object> decode_object(std::string_view part, std::string_view name) {
    const auto bytes = base64url_decode(part);
    if (!bytes) {
        return make_error(std::string(name) + " is not valid base64url");
    }
    json::error_code ec;
    // Default parse options: depth capped at 32, no comments or trailing commas.
    json::value value = json::parse(*bytes, ec);
    if (ec) {
        return make_error(std::string(name) + " is not valid JSON: " + ec.message());
    }
    if (!value.is_object()) {
        return make_error(std::string(name) + " is not a JSON object");
    }
    return std::move(value.as_object());
}

// A NumericDate claim (RFC 7519 2) as whole seconds; nullopt when absent.
expected<std::optional<std::int64_t>> numeric_date(const json::object& claims,
                                                   std::string_view name) {
    const auto* value = claims.if_contains(name);
    if (value == nullptr) {
        return std::optional<std::int64_t>{};
    }
    double seconds = 0;
    if (value->is_int64()) {
        seconds = static_cast<double>(value->get_int64());
    } else if (value->is_uint64()) {
        seconds = static_cast<double>(value->get_uint64());
    } else if (value->is_double()) {
        seconds = value->get_double();
    } else {
        return make_error(std::string(name) + " is not a number");
    }
    if (!std::isfinite(seconds) || std::fabs(seconds) > max_numeric_date) {
        return make_error(std::string(name) + " is out of range");
    }
    return std::optional<std::int64_t>(static_cast<std::int64_t>(std::floor(seconds)));
}

bool verify_hmac(const jwt_key& key, std::string_view input, std::string_view signature) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(),
             &length) == nullptr) {
        return false;
    }
    return length == signature.size() &&
           CRYPTO_memcmp(mac.data(), signature.data(), signature.size()) == 0;
}

bool verify_digest(EVP_PKEY* key, std::string_view input, const unsigned char* signature,
                   std::size_t signature_size) {
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), signature, signature_size,
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
}

// JWS carries ES256 signatures as R || S, 32 bytes each (RFC 7518 3.4); OpenSSL wants DER.
bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view signature) {
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, ecdsa_sig_deleter> sig(ECDSA_SIG_new());
    if (!sig) {
        return false;
    }
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    unsigned char* der = nullptr;
    const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_size <= 0) {
        return false;
    }
    const bool ok = verify_digest(key, input, der, static_cast<std::size_t>(der_size));
    OPENSSL_free(der);
    return ok;
}

bool verify_with(const jwt_key& key, std::string_view input, std::string_view signature) {
    switch (key.type) {
    case jwt_key::kind::hmac:
        return verify_hmac(key, input, signature);
    case jwt_key::kind::rsa:
        return key.public_key &&
               verify_digest(key.public_key.get(), input,
                             reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size());
    case jwt_key::kind::ec:
        return key.public_key && verify_es256(key.public_key.get(), input, signature);
    }
    return false;
}

// A failed check leaves entries on OpenSSL's per-thread error queue; the shard thread also runs
// TLS (Redis), whose error reporting reads that queue, so nothing stale may stay behind.
bool verify(const jwt_key& key, std::string_view input, std::string_view signature) {
    const bool ok = verify_with(key, input, signature);
    ERR_clear_error();
    return ok;
}

std::optional<jwt_key::kind> kind_of(std::string_view alg) {
    if (alg == "HS256") {
        return jwt_key::kind::hmac;
    }
    if (alg == "RS256") {
        return jwt_key::kind::rsa;
    }
    if (alg == "ES256") {
        return jwt_key::kind::ec;
    }
    return std::nullopt;
}

bool is_none(std::string_view alg) {
    return alg.size() == 4 && std::equal(alg.begin(), alg.end(), "none", [](char a, char b) {
               return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
           });
}

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

const json::string* string_member(const json::object& object, std::string_view name) {
    const auto* value = object.if_contains(name);
    return value != nullptr ? value->if_string() : nullptr;
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

jwt_validator::jwt_validator(jwt_options options) : options_(std::move(options)) {}

expected<principal> jwt_validator::validate(std::string_view token,
                                            clock_type::time_point now) const {
    if (token.size() > options_.max_token_size) {
        return make_error("token is " + std::to_string(token.size()) +
                          " bytes, over the limit of " + std::to_string(options_.max_token_size));
    }
    if (token.empty()) {
        return make_error("token is empty");
    }
    const std::size_t parts =
        1 + static_cast<std::size_t>(std::count(token.begin(), token.end(), '.'));
    if (parts != 3) {
        return make_error("token has " + std::to_string(parts) +
                          " parts, expected 3 (header.payload.signature)");
    }
    const auto first = token.find('.');
    const auto second = token.find('.', first + 1);
    const auto header_text = token.substr(0, first);
    const auto payload_text = token.substr(first + 1, second - first - 1);
    const auto signature_text = token.substr(second + 1);
    const auto signed_input = token.substr(0, second);

    auto header = decode_object(header_text, "header");
    if (!header) {
        return header.get_error();
    }
    const auto* alg = string_member(*header, "alg");
    if (alg == nullptr) {
        return make_error("header has no alg string");
    }
    if (is_none(*alg)) {
        return make_error("alg 'none' is not accepted");
    }
    const auto kind = kind_of(*alg);
    if (!kind) {
        return make_error("alg " + quote(*alg) + " is not supported (HS256, RS256, ES256)");
    }
    // RFC 7515 4.1.11: extensions listed in crit must be understood; we understand none.
    if (header->contains("crit")) {
        return make_error("header lists crit extensions, which are not supported");
    }
    const auto* kid = string_member(*header, "kid");

    const auto signature = base64url_decode(signature_text);
    if (!signature) {
        return make_error("signature is not valid base64url");
    }
    if (*kind == jwt_key::kind::ec && signature->size() != 64) {
        return make_error("ES256 signature is " + std::to_string(signature->size()) +
                          " bytes, expected 64 (R || S)");
    }
    if (*kind == jwt_key::kind::hmac && signature->size() != 32) {
        return make_error("HS256 signature is " + std::to_string(signature->size()) +
                          " bytes, expected 32");
    }

    bool any_candidate = false;
    bool verified = false;
    for (const auto& key : options_.keys) {
        if (key.type != *kind || (kid != nullptr && !key.key_id.empty() && key.key_id != *kid)) {
            continue;
        }
        any_candidate = true;
        if (verify(key, signed_input, *signature)) {
            verified = true;
            break;
        }
    }
    if (!any_candidate) {
        if (kid != nullptr) {
            return make_error("no " + std::string(*alg) + " key with kid " + quote(*kid));
        }
        return make_error("no " + std::string(*alg) + " key is configured");
    }
    if (!verified) {
        return make_error("signature does not match");
    }

    auto claims = decode_object(payload_text, "payload");
    if (!claims) {
        return claims.get_error();
    }
    const auto now_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const auto skew = options_.clock_skew.count();

    const auto exp = numeric_date(*claims, "exp");
    if (!exp) {
        return exp.get_error();
    }
    if (!*exp && options_.require_expiration) {
        return make_error("token has no exp claim");
    }
    if (*exp && now_seconds > **exp + skew) {
        return make_error("token expired at " + format_time(**exp) + " (now " +
                          format_time(now_seconds) + ", clock skew " + std::to_string(skew) + "s)");
    }
    const auto nbf = numeric_date(*claims, "nbf");
    if (!nbf) {
        return nbf.get_error();
    }
    if (*nbf && now_seconds + skew < **nbf) {
        return make_error("token is not valid before " + format_time(**nbf) + " (now " +
                          format_time(now_seconds) + ", clock skew " + std::to_string(skew) + "s)");
    }

    if (!options_.issuer.empty()) {
        const auto* iss = claims->if_contains("iss");
        if (iss == nullptr) {
            return make_error("token has no iss claim (expected '" + options_.issuer + "')");
        }
        if (!iss->is_string()) {
            return make_error("iss is not a string");
        }
        if (iss->get_string() != options_.issuer) {
            return make_error("issuer " + quote(iss->get_string()) + " is not '" + options_.issuer +
                              "'");
        }
    }

    if (!options_.audience.empty()) {
        const auto* aud = claims->if_contains("aud");
        if (aud == nullptr) {
            return make_error("token has no aud claim (expected '" + options_.audience + "')");
        }
        if (aud->is_string()) {
            if (aud->get_string() != options_.audience) {
                return make_error("audience " + quote(aud->get_string()) + " is not '" +
                                  options_.audience + "'");
            }
        } else if (aud->is_array()) {
            const auto& list = aud->get_array();
            const bool found = std::any_of(list.begin(), list.end(), [&](const json::value& v) {
                return v.is_string() && v.get_string() == options_.audience;
            });
            if (!found) {
                return make_error("audience list of " + std::to_string(list.size()) +
                                  " does not include '" + options_.audience + "'");
            }
        } else {
            return make_error("aud is neither a string nor an array");
        }
    }

    principal result;
    for (const auto& name : options_.user_claims) {
        const auto* value = string_member(*claims, name);
        if (value != nullptr && !value->empty()) {
            result.user_id = std::string(*value);
            break;
        }
    }
    if (result.user_id.empty()) {
        return make_error("no user id claim (looked for " + join(options_.user_claims) + ")");
    }

    const auto add_role = [&](const json::string& role) {
        if (role.empty()) {
            return;
        }
        // Linear: the token size bounds the number of roles.
        if (std::find(result.roles.begin(), result.roles.end(), role) == result.roles.end()) {
            result.roles.emplace_back(role);
        }
    };
    for (const auto& name : options_.role_claims) {
        const auto* value = claims->if_contains(name);
        if (value == nullptr) {
            continue;
        }
        if (value->is_string()) {
            add_role(value->get_string());
        } else if (value->is_array()) {
            for (const auto& item : value->get_array()) {
                if (!item.is_string()) {
                    return make_error("role claim '" + name + "' holds a non-string");
                }
                add_role(item.get_string());
            }
        } else {
            return make_error("role claim '" + name + "' is neither a string nor an array");
        }
    }

    if (*exp) {
        result.expires = clock_type::time_point(std::chrono::seconds(**exp));
    }
    result.claims = std::move(*claims);
    return result;
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

std::string issue_hs256(const json::object& claims, std::string_view secret) {
    std::string token = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
    token += '.';
    token += base64url_encode(json::serialize(claims));
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac.data(), &length);
    token += '.';
    token += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), length));
    return token;
}

}  // namespace switchboard::auth
