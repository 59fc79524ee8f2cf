// Client TLS for backend links: the context built once at startup, and the per-connection
// setup (SNI, certificate name check) of each attempt.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <string>
#include <string_view>

namespace switchboard::routing::link {

// The server certificate is verified against the system trust store (Debian's
// ca-certificates) unless a CA file replaces it (a private CA).
struct tls_options {
    std::string ca_file;    // PEM bundle; empty: the system store
    std::string cert_file;  // client certificate (PEM), with key_file; both or neither
    std::string key_file;
    // INSECURE: any server certificate is accepted. Only for tests and debugging; the caller
    // warns about it in its own terms.
    bool insecure_skip_verify = false;
};

// Startup only: throws std::invalid_argument "<label> TLS: <what> '<file>': <reason>", so
// that an unreadable CA file stops the server instead of turning into a reconnect loop.
[[nodiscard]] boost::asio::ssl::context make_client_tls_context(const tls_options& options,
                                                                std::string_view label);

// Prepares one attempt's stream: SNI for `server_name` (not for an IP address: RFC 6066
// forbids it, and the certificate's IP entries are checked instead) and, unless verification
// is off, the check of the certificate's name against it.
void prepare_client_stream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
                           const std::string& server_name, bool verify);

}  // namespace switchboard::routing::link
