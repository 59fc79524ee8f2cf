// The client's TLS configuration: one OpenSSL context per connection, verifying servers
// against the system's CAs (and an extra bundle) unless told not to.
#pragma once

#include "core/expected.hpp"

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::client::detail {

// TLS 1.2 at least. `verify` checks the chain against the system's default CA paths and
// `ca_file` (PEM, may be empty); the host name is checked per connection by the transports.
// An unreadable `ca_file` is an error naming it.
expected<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    bool verify, const std::string& ca_file);

}  // namespace switchboard::client::detail
