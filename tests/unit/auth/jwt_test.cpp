#include "auth/jwt.hpp"

#include "core/base64.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::auth {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

// A fixed "now" keeps messages with dates stable: 2024-01-01T00:00:00Z.
const clock_type::time_point now{std::chrono::seconds(1'704'067'200)};
constexpr std::int64_t now_s = 1'704'067'200;
const std::string secret = "0123456789abcdef0123456789abcdef-test-secret";

struct pkey_free {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

// Generated once: RSA 2048 key generation takes a noticeable fraction of a second.
EVP_PKEY* rsa_key() {
    static const pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
    return key.get();
}
EVP_PKEY* rsa_key_2() {
    static const pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
    return key.get();
}
EVP_PKEY* ec_key() {
    static const pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    return key.get();
}

std::string public_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

// The test's own signer, independent of the library's verifier: RS256 or ES256 (as R || S).
std::string sign(EVP_PKEY* key, std::string_view input) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
    std::size_t size = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(input.data());
    EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()), 1);
    std::string der(size, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size, data,
                             input.size()),
              1);
    der.resize(size);
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        return der;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
}

std::string hmac(std::string_view key, std::string_view input) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &length);
    return std::string(reinterpret_cast<const char*>(mac.data()), length);
}

std::string unsigned_part(std::string_view header, std::string_view payload) {
    return base64url_encode(header) + "." + base64url_encode(payload);
}

std::string rs256(EVP_PKEY* key, const json::object& claims, std::string_view kid = {}) {
    json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
    if (!kid.empty()) {
        header["kid"] = kid;
    }
    const auto input = unsigned_part(json::serialize(header), json::serialize(claims));
    return input + "." + base64url_encode(sign(key, input));
}

std::string es256(EVP_PKEY* key, const json::object& claims) {
    const auto input = unsigned_part(R"({"alg":"ES256","typ":"JWT"})", json::serialize(claims));
    return input + "." + base64url_encode(sign(key, input));
}

std::string hs256_raw(std::string_view header, std::string_view payload, std::string_view key) {
    const auto input = unsigned_part(header, payload);
    return input + "." + base64url_encode(hmac(key, input));
}

json::object claims(json::object extra = {}) {
    json::object result{{"sub", "alice"}, {"exp", now_s + 3600}, {"iat", now_s}};
    for (auto& [name, value] : extra) {
        result[name] = value;
    }
    return result;
}

jwt_key hmac_key() {
    auto key = load_hmac_secret(secret);
    EXPECT_TRUE(key) << key.error_message();
    return *key;
}

jwt_key pem_key(EVP_PKEY* pkey, std::string kid = {}) {
    auto key = load_pem_public_key(public_pem(pkey), std::move(kid));
    EXPECT_TRUE(key) << key.error_message();
    return *key;
}

jwt_validator validator_with(jwt_key key, std::string issuer = {}, std::string audience = {}) {
    jwt_options options;
    options.keys.push_back(std::move(key));
    options.issuer = std::move(issuer);
    options.audience = std::move(audience);
    return jwt_validator(std::move(options));
}

std::string bn_bytes(EVP_PKEY* key, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
    std::string out(static_cast<std::size_t>(pad > 0 ? pad : BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
}

json::object rsa_jwk(EVP_PKEY* key, std::string_view kid) {
    return {{"kty", "RSA"},
            {"kid", kid},
            {"use", "sig"},
            {"alg", "RS256"},
            {"n", base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_N))},
            {"e", base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_E))}};
}

json::object ec_jwk(EVP_PKEY* key, std::string_view kid) {
    return {{"kty", "EC"},
            {"kid", kid},
            {"crv", "P-256"},
            {"x", base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

std::string message_of(const expected<principal>& result) {
    return result ? std::string("(valid)") : result.error_message();
}

// ---- valid tokens

TEST(jwt_validator, accepts_hs256) {
    const auto result =
        validator_with(hmac_key()).validate(issue_hs256(claims({{"role", "admin"}}), secret), now);
    ASSERT_TRUE(result) << result.error_message();
    EXPECT_EQ(result->user_id, "alice");
    EXPECT_EQ(result->roles, std::vector<std::string>{"admin"});
    ASSERT_TRUE(result->expires);
    EXPECT_EQ(*result->expires, now + 3600s);
    EXPECT_EQ(result->claims.at("iat").to_number<std::int64_t>(), now_s);
}

TEST(jwt_validator, accepts_rs256) {
    const auto result =
        validator_with(pem_key(rsa_key())).validate(rs256(rsa_key(), claims()), now);
    ASSERT_TRUE(result) << result.error_message();
    EXPECT_EQ(result->user_id, "alice");
}

TEST(jwt_validator, accepts_es256) {
    const auto result = validator_with(pem_key(ec_key())).validate(es256(ec_key(), claims()), now);
    ASSERT_TRUE(result) << result.error_message();
    EXPECT_EQ(result->user_id, "alice");
}

TEST(jwt_validator, checks_issuer_and_audience_when_configured) {
    const auto token =
        issue_hs256(claims({{"iss", "https://issuer"}, {"aud", "switchboard"}}), secret);
    const auto result =
        validator_with(hmac_key(), "https://issuer", "switchboard").validate(token, now);
    EXPECT_TRUE(result) << result.error_message();
    const auto listed = issue_hs256(
        claims({{"iss", "https://issuer"}, {"aud", json::array{"other", "switchboard"}}}), secret);
    EXPECT_TRUE(validator_with(hmac_key(), "https://issuer", "switchboard").validate(listed, now));
}

// ---- time

TEST(jwt_validator, refuses_expired_token) {
    const auto token = issue_hs256(claims({{"exp", now_s - 3600}}), secret);
    const auto result = validator_with(hmac_key()).validate(token, now);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error_message(),
              "token expired at 2023-12-31T23:00:00Z (now 2024-01-01T00:00:00Z, clock skew 60s)");
}

TEST(jwt_validator, refuses_token_not_yet_valid) {
    const auto token = issue_hs256(claims({{"nbf", now_s + 600}}), secret);
    const auto result = validator_with(hmac_key()).validate(token, now);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error_message().rfind("token is not valid before 2024-01-01T00:10:00Z", 0), 0u)
        << result.error_message();
}

TEST(jwt_validator, tolerates_clock_skew) {
    const auto validator = validator_with(hmac_key());
    EXPECT_TRUE(validator.validate(issue_hs256(claims({{"exp", now_s - 30}}), secret), now));
    EXPECT_TRUE(validator.validate(issue_hs256(claims({{"nbf", now_s + 30}}), secret), now));
    EXPECT_FALSE(validator.validate(issue_hs256(claims({{"exp", now_s - 61}}), secret), now));
    EXPECT_FALSE(validator.validate(issue_hs256(claims({{"nbf", now_s + 61}}), secret), now));
}

TEST(jwt_validator, requires_exp_by_default) {
    json::object no_exp{{"sub", "alice"}};
    const auto result = validator_with(hmac_key()).validate(issue_hs256(no_exp, secret), now);
    EXPECT_EQ(message_of(result), "token has no exp claim");

    jwt_options options;
    options.keys.push_back(hmac_key());
    options.require_expiration = false;
    const auto allowed = jwt_validator(options).validate(issue_hs256(no_exp, secret), now);
    ASSERT_TRUE(allowed) << allowed.error_message();
    EXPECT_FALSE(allowed->expires);
}

TEST(jwt_validator, exp_must_be_a_number) {
    const auto token = issue_hs256(claims({{"exp", "tomorrow"}}), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(token, now)), "exp is not a number");
    const auto huge = issue_hs256(claims({{"exp", 1e300}}), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(huge, now)), "exp is out of range");
}

// ---- issuer and audience

TEST(jwt_validator, refuses_wrong_issuer) {
    const auto token = issue_hs256(claims({{"iss", "https://evil"}}), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key(), "https://issuer").validate(token, now)),
              "issuer 'https://evil' is not 'https://issuer'");
    EXPECT_EQ(message_of(validator_with(hmac_key(), "https://issuer")
                             .validate(issue_hs256(claims(), secret), now)),
              "token has no iss claim (expected 'https://issuer')");
}

TEST(jwt_validator, refuses_wrong_audience) {
    const auto validator = validator_with(hmac_key(), {}, "switchboard");
    EXPECT_EQ(message_of(validator.validate(issue_hs256(claims({{"aud", "other"}}), secret), now)),
              "audience 'other' is not 'switchboard'");
    const auto listed = issue_hs256(claims({{"aud", json::array{"a", "b"}}}), secret);
    EXPECT_EQ(message_of(validator.validate(listed, now)),
              "audience list of 2 does not include 'switchboard'");
    EXPECT_EQ(message_of(validator.validate(issue_hs256(claims(), secret), now)),
              "token has no aud claim (expected 'switchboard')");
}

// ---- signatures and algorithms

TEST(jwt_validator, refuses_tampered_payload) {
    const auto token = issue_hs256(claims(), secret);
    const auto first = token.find('.');
    const auto second = token.find('.', first + 1);
    const auto forged = token.substr(0, first + 1) +
                        base64url_encode(json::serialize(claims({{"sub", "mallory"}}))) +
                        token.substr(second);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(forged, now)),
              "signature does not match");
    const auto rsa = rs256(rsa_key(), claims());
    const auto rsa_forged = rsa.substr(0, rsa.find('.') + 1) +
                            base64url_encode(json::serialize(claims({{"sub", "mallory"}}))) +
                            rsa.substr(rsa.rfind('.'));
    EXPECT_EQ(message_of(validator_with(pem_key(rsa_key())).validate(rsa_forged, now)),
              "signature does not match");
}

TEST(jwt_validator, refuses_tampered_signature) {
    for (auto token :
         {issue_hs256(claims(), secret), rs256(rsa_key(), claims()), es256(ec_key(), claims())}) {
        auto signature = *base64url_decode(token.substr(token.rfind('.') + 1));
        signature[5] = static_cast<char>(signature[5] ^ 0x01);
        token = token.substr(0, token.rfind('.') + 1) + base64url_encode(signature);
        jwt_options options;
        options.keys = {hmac_key(), pem_key(rsa_key()), pem_key(ec_key())};
        EXPECT_EQ(message_of(jwt_validator(options).validate(token, now)),
                  "signature does not match");
    }
}

TEST(jwt_validator, refuses_signature_of_another_key) {
    EXPECT_EQ(
        message_of(validator_with(pem_key(rsa_key())).validate(rs256(rsa_key_2(), claims()), now)),
        "signature does not match");
    EXPECT_EQ(
        message_of(
            validator_with(hmac_key()).validate(issue_hs256(claims(), secret + "-other"), now)),
        "signature does not match");
}

TEST(jwt_validator, refuses_alg_none) {
    const auto payload = json::serialize(claims());
    const auto validator = validator_with(hmac_key());
    for (const std::string_view alg : {"none", "None", "NONE"}) {
        const auto header = std::string(R"({"alg":")") + std::string(alg) + R"(","typ":"JWT"})";
        const auto bare = unsigned_part(header, payload) + ".";
        EXPECT_EQ(message_of(validator.validate(bare, now)), "alg 'none' is not accepted");
        const auto signed_too = unsigned_part(header, payload) + "." +
                                base64url_encode(hmac(secret, unsigned_part(header, payload)));
        EXPECT_EQ(message_of(validator.validate(signed_too, now)), "alg 'none' is not accepted");
    }
}

TEST(jwt_validator, refuses_unsupported_alg) {
    const auto token = hs256_raw(R"({"alg":"HS512"})", json::serialize(claims()), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(token, now)),
              "alg 'HS512' is not supported (HS256, RS256, ES256)");
    const auto no_alg = hs256_raw(R"({"typ":"JWT"})", json::serialize(claims()), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(no_alg, now)),
              "header has no alg string");
}

TEST(jwt_validator, refuses_algorithm_confusion) {
    // The classic attack: HS256 keyed with the public key's PEM text, which the attacker knows.
    const auto pem = public_pem(rsa_key());
    const auto token = issue_hs256(claims(), pem);
    EXPECT_EQ(message_of(validator_with(pem_key(rsa_key())).validate(token, now)),
              "no HS256 key is configured");
    const auto ec_pem = public_pem(ec_key());
    EXPECT_EQ(
        message_of(validator_with(pem_key(ec_key())).validate(issue_hs256(claims(), ec_pem), now)),
        "no HS256 key is configured");
}

TEST(jwt_validator, refuses_wrong_key_type) {
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(rs256(rsa_key(), claims()), now)),
              "no RS256 key is configured");
    EXPECT_EQ(
        message_of(validator_with(pem_key(rsa_key())).validate(es256(ec_key(), claims()), now)),
        "no ES256 key is configured");
    EXPECT_EQ(
        message_of(validator_with(pem_key(ec_key())).validate(rs256(rsa_key(), claims()), now)),
        "no RS256 key is configured");
}

TEST(jwt_validator, refuses_es256_signature_of_wrong_length) {
    auto token = es256(ec_key(), claims());
    const auto signature = *base64url_decode(token.substr(token.rfind('.') + 1));
    token = token.substr(0, token.rfind('.') + 1) + base64url_encode(signature + "xx");
    EXPECT_EQ(message_of(validator_with(pem_key(ec_key())).validate(token, now)),
              "ES256 signature is 66 bytes, expected 64 (R || S)");
    // A DER signature, as OpenSSL would produce, is not the JWS form either.
    const auto input = token.substr(0, token.rfind('.'));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, ec_key()), 1);
    std::array<unsigned char, 80> der{};
    std::size_t size = der.size();
    ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &size,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    const auto der_token =
        input + "." +
        base64url_encode(std::string_view(reinterpret_cast<const char*>(der.data()), size));
    EXPECT_FALSE(validator_with(pem_key(ec_key())).validate(der_token, now));
}

// ---- key ids and JWKS

TEST(jwt_jwks, loads_rsa_and_ec_keys) {
    const json::object set{{"keys", json::array{rsa_jwk(rsa_key(), "r1"), ec_jwk(ec_key(), "e1")}}};
    const auto keys = load_jwks(json::serialize(set));
    ASSERT_TRUE(keys) << keys.error_message();
    ASSERT_EQ(keys->size(), 2u);
    EXPECT_EQ((*keys)[0].type, jwt_key::kind::rsa);
    EXPECT_EQ((*keys)[0].key_id, "r1");
    EXPECT_EQ((*keys)[1].type, jwt_key::kind::ec);
    EXPECT_EQ((*keys)[1].key_id, "e1");

    jwt_options options;
    options.keys = *keys;
    const jwt_validator validator(options);
    EXPECT_TRUE(validator.validate(rs256(rsa_key(), claims(), "r1"), now));
    EXPECT_TRUE(validator.validate(es256(ec_key(), claims()), now));
}

TEST(jwt_jwks, kid_selects_the_key) {
    const json::object set{
        {"keys", json::array{rsa_jwk(rsa_key(), "first"), rsa_jwk(rsa_key_2(), "second")}}};
    auto keys = load_jwks(json::serialize(set));
    ASSERT_TRUE(keys) << keys.error_message();
    jwt_options options;
    options.keys = *keys;
    const jwt_validator validator(options);
    EXPECT_TRUE(validator.validate(rs256(rsa_key(), claims(), "first"), now));
    EXPECT_TRUE(validator.validate(rs256(rsa_key_2(), claims(), "second"), now));
    // The right kid with the other key's signature: only the named key is tried.
    EXPECT_EQ(message_of(validator.validate(rs256(rsa_key_2(), claims(), "first"), now)),
              "signature does not match");
    EXPECT_EQ(message_of(validator.validate(rs256(rsa_key(), claims(), "third"), now)),
              "no RS256 key with kid 'third'");
    // Without a kid every key of the kind is tried.
    EXPECT_TRUE(validator.validate(rs256(rsa_key_2(), claims()), now));
}

TEST(jwt_jwks, skips_keys_not_for_signing_and_rejects_malformed_ones) {
    auto enc = rsa_jwk(rsa_key(), "enc");
    enc["use"] = "enc";
    const json::object okp{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}};
    const auto only_skipped =
        load_jwks(json::serialize(json::object{{"keys", json::array{enc, okp}}}));
    EXPECT_EQ(only_skipped ? std::string() : only_skipped.error_message(),
              "JWKS has no usable signing key (RSA, EC P-256 or oct)");

    auto bad = ec_jwk(ec_key(), "bad");
    bad["x"] = base64url_encode(std::string(32, '\x01'));  // not on the curve
    const auto off_curve = load_jwks(json::serialize(json::object{{"keys", json::array{bad}}}));
    ASSERT_FALSE(off_curve);
    EXPECT_EQ(off_curve.error_message().rfind("JWKS key 0 (kid 'bad'): ", 0), 0u)
        << off_curve.error_message();

    EXPECT_FALSE(load_jwks("not json"));
    EXPECT_FALSE(load_jwks(R"({"keys": {}})"));
    EXPECT_FALSE(load_jwks(R"({"keys": [{"kty": "RSA", "n": "+++", "e": "AQAB"}]})"));
}

TEST(jwt_keys, pem_and_secret_loading_refuse_weak_or_foreign_keys) {
    EXPECT_EQ(load_hmac_secret("short").error_message(),
              "HMAC secret is 5 bytes; HS256 needs at least 32 (RFC 7518 3.2)");
    const auto garbage =
        load_pem_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    EXPECT_FALSE(garbage);
    pkey_ptr small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}));
    EXPECT_EQ(load_pem_public_key(public_pem(small.get())).error_message(),
              "RSA key is 1024 bits; RS256 needs at least 2048");
    pkey_ptr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    EXPECT_EQ(load_pem_public_key(public_pem(p384.get())).error_message(),
              "EC key is not on curve P-256 (the only one ES256 uses)");
}

TEST(jwt_keys, failures_leave_no_openssl_errors_behind) {
    // The shard thread also runs TLS, which reads OpenSSL's per-thread error queue.
    ERR_clear_error();
    jwt_options options;
    options.keys = {pem_key(rsa_key()), pem_key(ec_key())};
    const jwt_validator validator(options);
    EXPECT_FALSE(validator.validate(rs256(rsa_key_2(), claims()), now));
    EXPECT_EQ(ERR_peek_error(), 0u);
    auto token = es256(ec_key(), claims());
    token = token.substr(0, token.rfind('.') + 1) + base64url_encode(std::string(64, '\xff'));
    EXPECT_FALSE(validator.validate(token, now));
    EXPECT_EQ(ERR_peek_error(), 0u);
    EXPECT_FALSE(load_pem_public_key("not a key"));
    EXPECT_EQ(ERR_peek_error(), 0u);
    auto bad = ec_jwk(ec_key(), "bad");
    bad["x"] = base64url_encode(std::string(32, '\x01'));
    EXPECT_FALSE(load_jwks(json::serialize(json::object{{"keys", json::array{bad}}})));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

// ---- user id and roles

TEST(jwt_validator, reports_missing_user_claim) {
    const json::object no_user{{"exp", now_s + 60}, {"name", "alice"}};
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(issue_hs256(no_user, secret), now)),
              "no user id claim (looked for sub, nameid, "
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier)");
}

TEST(jwt_validator, takes_user_id_from_dotnet_claims) {
    const auto validator = validator_with(hmac_key());
    const json::object nameid{{"exp", now_s + 60}, {"nameid", "bob"}};
    EXPECT_EQ(validator.validate(issue_hs256(nameid, secret), now)->user_id, "bob");
    const json::object long_form{
        {"exp", now_s + 60},
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", "carol"}};
    EXPECT_EQ(validator.validate(issue_hs256(long_form, secret), now)->user_id, "carol");
    // sub comes first when several are present.
    const json::object both{{"exp", now_s + 60}, {"nameid", "bob"}, {"sub", "alice"}};
    EXPECT_EQ(validator.validate(issue_hs256(both, secret), now)->user_id, "alice");

    jwt_options options;
    options.keys.push_back(hmac_key());
    options.user_claims = {"email"};
    const json::object email{{"exp", now_s + 60}, {"sub", "x"}, {"email", "dave@example.com"}};
    EXPECT_EQ(jwt_validator(options).validate(issue_hs256(email, secret), now)->user_id,
              "dave@example.com");
}

TEST(jwt_validator, reads_roles_as_string_or_array) {
    const auto validator = validator_with(hmac_key());
    const auto array = validator.validate(
        issue_hs256(
            claims({{"role", json::array{"admin", "user", "admin"}},
                    {"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "auditor"},
                    {"roles", json::array{"user", "ops"}}}),
            secret),
        now);
    ASSERT_TRUE(array) << array.error_message();
    EXPECT_EQ(array->roles, (std::vector<std::string>{"admin", "user", "ops", "auditor"}));
    const auto none = validator.validate(issue_hs256(claims(), secret), now);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->roles.empty());
    EXPECT_EQ(message_of(validator.validate(issue_hs256(claims({{"role", 5}}), secret), now)),
              "role claim 'role' is neither a string nor an array");
}

// ---- malformed tokens

TEST(jwt_validator, refuses_malformed_tokens) {
    const auto validator = validator_with(hmac_key());
    EXPECT_EQ(message_of(validator.validate("", now)), "token is empty");
    EXPECT_EQ(message_of(validator.validate("abc.def", now)),
              "token has 2 parts, expected 3 (header.payload.signature)");
    EXPECT_EQ(message_of(validator.validate("a.b.c.d.e", now)),
              "token has 5 parts, expected 3 (header.payload.signature)");
    EXPECT_EQ(message_of(validator.validate("e30=.e30.e30", now)), "header is not valid base64url");
    EXPECT_EQ(message_of(validator.validate("e30.e30.!!", now)), "header has no alg string");

    const auto token = issue_hs256(claims(), secret);
    const auto bad_signature = token.substr(0, token.rfind('.') + 1) + "a*b";
    EXPECT_EQ(message_of(validator.validate(bad_signature, now)),
              "signature is not valid base64url");

    const auto not_json = hs256_raw(R"({"alg":"HS256"})", "{not json", secret);
    EXPECT_EQ(message_of(validator.validate(not_json, now)).rfind("payload is not valid JSON", 0),
              0u);
    const auto array = hs256_raw(R"({"alg":"HS256"})", "[1,2]", secret);
    EXPECT_EQ(message_of(validator.validate(array, now)), "payload is not a JSON object");
    const auto header_array = hs256_raw("[]", json::serialize(claims()), secret);
    EXPECT_EQ(message_of(validator.validate(header_array, now)), "header is not a JSON object");
    const auto crit =
        hs256_raw(R"({"alg":"HS256","crit":["exp"]})", json::serialize(claims()), secret);
    EXPECT_EQ(message_of(validator.validate(crit, now)),
              "header lists crit extensions, which are not supported");
}

TEST(jwt_validator, refuses_token_over_the_size_limit) {
    const auto token = issue_hs256(claims({{"padding", std::string(9000, 'x')}}), secret);
    EXPECT_EQ(message_of(validator_with(hmac_key()).validate(token, now)),
              "token is " + std::to_string(token.size()) + " bytes, over the limit of 8192");
}

TEST(jwt_validator, quotes_untrusted_text_safely) {
    const auto alg = std::string(200, 'A') + "\n";
    const auto token = hs256_raw(R"({"alg":")" + alg.substr(0, 200) + R"(\n"})",
                                 json::serialize(claims()), secret);
    const auto message = message_of(validator_with(hmac_key()).validate(token, now));
    EXPECT_EQ(message,
              "alg '" + std::string(64, 'A') + "...' is not supported (HS256, RS256, ES256)");
}

TEST(jwt_validator, errors_never_contain_the_secret) {
    const auto validator = validator_with(hmac_key());
    for (const auto& token : {issue_hs256(claims(), "wrong-secret-wrong-secret-wrong-secret"),
                              issue_hs256(claims({{"exp", 1}}), secret), std::string("x.y.z")}) {
        const auto message = message_of(validator.validate(token, now));
        EXPECT_EQ(message.find(secret), std::string::npos) << message;
    }
}

}  // namespace
}  // namespace switchboard::auth
