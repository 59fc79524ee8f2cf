#include "client/transport/tls_client.hpp"

#include <boost/asio/ssl/context.hpp>

namespace switchboard::client::detail {

expected<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    bool verify, const std::string& ca_file) {
    namespace ssl = boost::asio::ssl;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::no_compression,
                         ec);
    if (!verify) {
        context->set_verify_mode(ssl::verify_none, ec);
        return context;
    }
    context->set_verify_mode(ssl::verify_peer, ec);
    context->set_default_verify_paths(ec);
    if (ec) {
        return make_error("TLS: cannot load the system's CA certificates: " + ec.message());
    }
    if (!ca_file.empty()) {
        context->load_verify_file(ca_file, ec);
        if (ec) {
            return make_error("TLS: cannot load the CA file '" + ca_file + "': " + ec.message());
        }
    }
    return context;
}

}  // namespace switchboard::client::detail
