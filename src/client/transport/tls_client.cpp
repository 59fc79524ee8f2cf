#include "client/transport/tls_client.hpp"

#include <openssl/x509v3.h>
#include <boost/asio/ip/address.hpp>

namespace switchboard::client::detail {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

expected<std::shared_ptr<ssl::context>> make_client_tls_context(bool verify,
                                                                const std::string& ca_file) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    // TLS 1.2 is the oldest version today's servers accept; older ones have known weaknesses.
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    error_code ec;
    if (!verify) {
        context->set_verify_mode(ssl::verify_none, ec);
        return context;
    }
    context->set_verify_mode(ssl::verify_peer, ec);
    if (ec) {
        return make_error("TLS: cannot turn certificate verification on: " + ec.message());
    }
    context->set_default_verify_paths(ec);
    if (ec) {
        return make_error("TLS: cannot load the system trust store: " + ec.message());
    }
    if (!ca_file.empty()) {
        context->load_verify_file(ca_file, ec);
        if (ec) {
            return make_error("TLS: cannot load the CA file '" + ca_file + "': " + ec.message());
        }
    }
    return context;
}

std::shared_ptr<ssl::context> default_client_tls_context() {
    static const auto context = [] {
        auto made = make_client_tls_context(true);
        return made ? *made : nullptr;
    }();
    return context;
}

bool tls_context_verifies(ssl::context& context) noexcept {
    return (SSL_CTX_get_verify_mode(context.native_handle()) & SSL_VERIFY_PEER) != 0;
}

std::optional<std::string> prepare_tls_stream(SSL* ssl, const std::string& host, bool verify) {
    error_code ec;
    (void)boost::asio::ip::make_address(host, ec);  // ec set: a name, not an address
    if (ec && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
        return "TLS: cannot set the server name '" + host + "'";
    }
    if (!verify) {
        return std::nullopt;
    }
    // OpenSSL's own check (what ssl::host_name_verification does, without a callback per
    // certificate of the chain): a DNS name or an IP address entry must match.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ec ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
                       : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    if (set != 1) {
        return "TLS: cannot check the certificate against '" + host + "'";
    }
    return std::nullopt;
}

}  // namespace switchboard::client::detail
