// Loading the listener's certificate and key: what works, and the startup errors that name the
// flag and the file when it does not.
#include "http/tls.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace switchboard::http {
namespace {

namespace fs = std::filesystem;

struct pkey_free {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct x509_free {
    void operator()(X509* cert) const { X509_free(cert); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

pkey_ptr make_key() {
    return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

x509_ptr self_signed(EVP_PKEY* key) {
    x509_ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_sign(cert.get(), key, EVP_sha256());
    return cert;
}

class tls_context_test : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("switchboard-tls-test-" + std::to_string(std::random_device{}()));
        fs::create_directories(dir_);
        key_ = make_key();
        cert_ = self_signed(key_.get());
        write_pem(path("cert.pem"), cert_.get(), nullptr);
        write_pem(path("key.pem"), nullptr, key_.get());
        write_pem(path("combined.pem"), cert_.get(), key_.get());
        auto other = make_key();
        write_pem(path("other-key.pem"), nullptr, other.get());
        std::ofstream(path("garbage.pem")) << "not a certificate\n";
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    [[nodiscard]] std::string path(const std::string& name) const { return (dir_ / name).string(); }

    static void write_pem(const std::string& file, X509* cert, EVP_PKEY* key) {
        std::FILE* out = std::fopen(file.c_str(), "w");
        ASSERT_NE(out, nullptr);
        if (cert != nullptr) {
            PEM_write_X509(out, cert);
        }
        if (key != nullptr) {
            PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
        }
        std::fclose(out);
    }

    // The message of the exception make_server_tls_context throws, or "" when it does not.
    static std::string error_of(const std::string& cert, const std::string& key) {
        try {
            make_server_tls_context(cert, key);
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return {};
    }

    fs::path dir_;
    pkey_ptr key_;
    x509_ptr cert_;
};

TEST_F(tls_context_test, loads_certificate_and_separate_key) {
    const auto context = make_server_tls_context(path("cert.pem"), path("key.pem"));
    ASSERT_NE(context, nullptr);
    EXPECT_EQ(SSL_CTX_check_private_key(context->native_handle()), 1);
}

TEST_F(tls_context_test, reads_the_key_from_the_certificate_file_when_no_key_is_given) {
    EXPECT_NE(make_server_tls_context(path("combined.pem"), ""), nullptr);
}

TEST_F(tls_context_test, requires_tls_1_2_and_turns_compression_off) {
    const auto context = make_server_tls_context(path("cert.pem"), path("key.pem"));
    EXPECT_EQ(SSL_CTX_get_min_proto_version(context->native_handle()), TLS1_2_VERSION);
    EXPECT_NE(SSL_CTX_get_options(context->native_handle()) & SSL_OP_NO_COMPRESSION, 0U);
}

TEST_F(tls_context_test, missing_certificate_names_flag_and_file) {
    const auto error = error_of(path("absent.pem"), path("key.pem"));
    EXPECT_NE(error.find("--tls-cert"), std::string::npos) << error;
    EXPECT_NE(error.find(path("absent.pem")), std::string::npos) << error;
}

TEST_F(tls_context_test, missing_key_names_flag_and_file) {
    const auto error = error_of(path("cert.pem"), path("absent-key.pem"));
    EXPECT_NE(error.find("--tls-key"), std::string::npos) << error;
    EXPECT_NE(error.find(path("absent-key.pem")), std::string::npos) << error;
}

TEST_F(tls_context_test, certificate_without_key_is_an_error) {
    const auto error = error_of(path("cert.pem"), "");
    EXPECT_NE(error.find("--tls-key is not set"), std::string::npos) << error;
}

TEST_F(tls_context_test, key_without_certificate_is_an_error) {
    const auto error = error_of("", path("key.pem"));
    EXPECT_NE(error.find("--tls-cert"), std::string::npos) << error;
}

TEST_F(tls_context_test, garbage_certificate_is_an_error) {
    const auto error = error_of(path("garbage.pem"), path("key.pem"));
    EXPECT_NE(error.find("--tls-cert"), std::string::npos) << error;
}

TEST_F(tls_context_test, key_of_another_certificate_is_refused) {
    const auto error = error_of(path("cert.pem"), path("other-key.pem"));
    EXPECT_FALSE(error.empty());
    EXPECT_NE(error.find("--tls-key"), std::string::npos) << error;
}

}  // namespace
}  // namespace switchboard::http
