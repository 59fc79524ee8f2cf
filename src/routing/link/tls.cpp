#include "routing/link/tls.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include <stdexcept>

namespace switchboard::routing::link {

namespace asio = boost::asio;
using boost::system::error_code;

asio::ssl::context make_client_tls_context(const tls_options& options, std::string_view label) {
    asio::ssl::context context(asio::ssl::context::tls_client);
    // TLS 1.2 is the oldest version today's servers and managed services accept; the older
    // ones have known weaknesses.
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    error_code ec;
    auto check = [&ec, label](std::string_view what, std::string_view file = {}) {
        if (ec) {
            throw std::invalid_argument(std::string(label) + " TLS: " + std::string(what) +
                                        (file.empty() ? "" : " '" + std::string(file) + "'") +
                                        ": " + ec.message());
        }
    };
    if (options.insecure_skip_verify) {
        context.set_verify_mode(asio::ssl::verify_none, ec);
        check("cannot turn verification off");
    } else {
        context.set_verify_mode(asio::ssl::verify_peer, ec);
        check("cannot turn verification on");
        if (!options.ca_file.empty()) {
            context.load_verify_file(options.ca_file, ec);
            check("cannot load the CA file", options.ca_file);
        } else {
            context.set_default_verify_paths(ec);
            check("cannot load the system trust store");
        }
    }
    if (!options.cert_file.empty()) {
        context.use_certificate_chain_file(options.cert_file, ec);
        check("cannot load the client certificate", options.cert_file);
        context.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
        check("cannot load the client key", options.key_file);
    }
    return context;
}

void prepare_client_stream(asio::ssl::stream<asio::ip::tcp::socket>& stream,
                           const std::string& server_name, bool verify) {
    error_code ec;
    (void)asio::ip::make_address(server_name, ec);
    if (ec) {  // a name, not an address
        SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());
    }
    if (verify) {
        error_code ignored;  // fails only for a null SSL handle
        stream.set_verify_callback(asio::ssl::host_name_verification(server_name), ignored);
    }
}

}  // namespace switchboard::routing::link
