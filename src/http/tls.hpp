// The server's TLS configuration: a certificate chain and private key loaded once at startup
// into the OpenSSL context every accepted connection shares.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace switchboard::http {

// Loads `cert_file` (PEM: the server certificate, then any intermediates) and `key_file` (PEM;
// empty: the key is read from `cert_file`), checks that they belong together, and sets TLS 1.2
// as the minimum, OpenSSL's default ciphers with the server's preference, no compression.
// Configuration only: throws std::runtime_error naming the flag and file at fault.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_file,
                                                                   const std::string& key_file);

}  // namespace switchboard::http
