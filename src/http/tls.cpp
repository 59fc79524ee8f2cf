#include "http/tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace switchboard::http {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file) {
    if (cert_file.empty()) {
        throw std::runtime_error("--tls-key needs --tls-cert: the certificate to go with the key");
    }
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    // TLS 1.0 and 1.1 are deprecated (RFC 8996); every client of the last decade speaks 1.2.
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    // Compression exposes secrets to CRIME-style attacks; the server's cipher order is the
    // stronger one when the client's list starts with weak suites; renegotiation lets one
    // client make the server do handshake after handshake, and no SignalR client needs it.
    SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_COMPRESSION |
                                                      SSL_OP_CIPHER_SERVER_PREFERENCE |
                                                      SSL_OP_NO_RENEGOTIATION);

    boost::system::error_code ec;
    context->use_certificate_chain_file(cert_file, ec);
    if (ec) {
        throw std::runtime_error("--tls-cert: cannot load the certificate chain '" + cert_file +
                                 "': " + ec.message());
    }
    const std::string& key_path = key_file.empty() ? cert_file : key_file;
    context->use_private_key_file(key_path, ssl::context::pem, ec);
    if (ec && key_file.empty()) {
        throw std::runtime_error("--tls-key is not set and '" + cert_file +
                                 "' holds no usable private key: " + ec.message());
    }
    if (ec) {
        throw std::runtime_error("--tls-key: cannot load the private key '" + key_path +
                                 "': " + ec.message());
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
        throw std::runtime_error("--tls-key: the private key '" + key_path +
                                 "' does not match the certificate '" + cert_file + "'");
    }
    return context;
}

}  // namespace switchboard::http
