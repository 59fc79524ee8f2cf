// Client TLS for https and wss: the context a connection's requests share, and the per-stream
// setup (SNI, host name check) each connection applies.
#pragma once

#include "core/expected.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <optional>
#include <string>

namespace switchboard::client::detail {

// TLS 1.2 or newer, trusting the system store (Debian's ca-certificates) and, when `ca_file`
// names a PEM bundle, its certificates as well (a private CA next to the public ones). With
// `verify` false any certificate is accepted: for tests and debugging only.
expected<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    bool verify, const std::string& ca_file = {});

// The context of an https/wss request whose http_context has none: verifying against the system
// store, built once per process (loading the store costs milliseconds). Null if that failed.
std::shared_ptr<boost::asio::ssl::context> default_client_tls_context();

// Whether the context checks the server's certificate (and so its name).
bool tls_context_verifies(boost::asio::ssl::context& context) noexcept;

// Prepares one stream: SNI for a host name (not for an IP address, RFC 6066) and, when
// `verify`, the check of the certificate against `host`. Returns an error text on failure.
std::optional<std::string> prepare_tls_stream(SSL* ssl, const std::string& host, bool verify);

}  // namespace switchboard::client::detail
