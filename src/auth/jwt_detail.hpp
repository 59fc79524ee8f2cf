// What the JWT validator and the key loaders share: owning handles for OpenSSL objects and the
// helpers that quote untrusted text. Internal to auth/.
#pragma once

#include <boost/json/object.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::auth::detail {

// Parts of a token or key set quoted in errors are cut here: enough to recognise a value, not
// enough to let a client fill the server log.
constexpr std::size_t max_quoted = 64;

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

inline std::shared_ptr<evp_pkey_st> share(EVP_PKEY* key) {
    return std::shared_ptr<evp_pkey_st>(key, pkey_deleter{});
}

// A token-supplied string, safe to log: printable ASCII only, truncated.
inline std::string quote(std::string_view text) {
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

inline const boost::json::string* string_member(const boost::json::object& object,
                                                std::string_view name) {
    const auto* value = object.if_contains(name);
    return value != nullptr ? value->if_string() : nullptr;
}

}  // namespace switchboard::auth::detail
