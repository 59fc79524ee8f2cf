// libFuzzer target for the JWT validator: whatever a client sends as a bearer token must be
// refused or accepted without crashing, and a token from issue_hs256 must always validate.
// The first byte picks a mode:
//   0: the rest is the token, as a client would send it (HS256 and ES256 keys configured);
//   1: the rest is "header JSON\npayload JSON", signed here with the HMAC key, so that the
//      fuzzer reaches the claim checks behind the signature, which it could never forge;
//   2: the rest seeds the claims of a token from issue_hs256, which must validate.
#include "auth/jwt.hpp"

#include "core/base64.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <boost/json/object.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace switchboard::auth;
using switchboard::base64url_encode;

// The secret of the seed corpus's HS256 tokens (tests/fuzz/corpus/jwt).
constexpr std::string_view secret = "switchboard-fuzz-secret-0123456789abcdef";
// A fixed clock keeps runs reproducible: 2024-01-01T00:00:00Z; seeds expire in 2100.
const std::chrono::system_clock::time_point now{std::chrono::seconds(1'704'067'200)};

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "%s: %s\n", what, detail.c_str());
    std::abort();
}

// An EC key generated once per process: ES256 tokens then reach the signature check (and fail
// it), which exercises the R || S to DER conversion on arbitrary bytes.
jwt_key make_ec_key() {
    EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    if (pkey == nullptr || bio == nullptr || PEM_write_bio_PUBKEY(bio, pkey) != 1) {
        fail("setup", "EC key generation failed");
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    auto key = load_pem_public_key(std::string_view(data, static_cast<std::size_t>(size)));
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    if (!key) {
        fail("setup", key.error_message());
    }
    return *key;
}

const jwt_validator& validator() {
    static const jwt_validator instance = [] {
        jwt_options options;
        auto hmac = load_hmac_secret(std::string(secret));
        if (!hmac) {
            fail("setup", hmac.error_message());
        }
        options.keys = {*hmac, make_ec_key()};
        // Small enough that the fuzzer reaches the size limit.
        options.max_token_size = 2048;
        return jwt_validator(std::move(options));
    }();
    return instance;
}

std::string sign_here(std::string_view header, std::string_view payload) {
    std::string token = base64url_encode(header) + "." + base64url_encode(payload);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac.data(), &length);
    return token + "." +
           base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), length));
}

void check_issued(std::string_view input) {
    // base64url keeps the claim valid UTF-8 whatever the bytes; cut to stay under the limit.
    const auto text = base64url_encode(input.substr(0, 600));
    const auto half = text.size() / 2;
    boost::json::object claims{{"sub", text.empty() ? std::string("x") : text},
                               {"role", text.substr(half)},
                               {"exp", 4'102'444'800}};  // 2100-01-01
    const auto token = issue_hs256(claims, secret);
    const auto result = validator().validate(token, now);
    if (!result) {
        fail("issued token refused", result.error_message());
    }
    if (result->user_id != claims.at("sub").as_string()) {
        fail("user id changed", result->user_id);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        const auto result = validator().validate(input, now);
        if (result && result->user_id.empty()) {
            fail("accepted without a user id", std::string(input));
        }
        break;
    }
    case 1: {
        const auto newline = input.find('\n');
        if (newline == std::string_view::npos) {
            return 0;
        }
        const auto token = sign_here(input.substr(0, newline), input.substr(newline + 1));
        (void)validator().validate(token, now);
        break;
    }
    default:
        check_issued(input);
        break;
    }
    return 0;
}
