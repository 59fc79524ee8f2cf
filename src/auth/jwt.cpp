#include "auth/jwt.hpp"

#include "auth/jwt_detail.hpp"
#include "core/ascii.hpp"
#include "core/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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

using namespace detail;

// NumericDate beyond this (year ~33000) is treated as malformed, keeping the arithmetic exact.
constexpr double max_numeric_date = 1e12;

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

// The inverse of algorithm_of, so the names live in one place.
std::optional<jwt_key::kind> kind_of(std::string_view alg) {
    for (const auto kind : {jwt_key::kind::hmac, jwt_key::kind::rsa, jwt_key::kind::ec}) {
        if (algorithm_of(kind) == alg) {
            return kind;
        }
    }
    return std::nullopt;
}

bool is_none(std::string_view alg) {
    return ascii_iequals(alg, "none");
}

}  // namespace

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
    if (result.user_id.empty() && options_.require_user) {
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
