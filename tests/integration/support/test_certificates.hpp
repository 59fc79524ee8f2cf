// Throwaway TLS material for tests, made with the openssl CLI: a CA, a server certificate for
// 127.0.0.1 and localhost, a client certificate, and an unrelated second CA.
#pragma once

#include <string>

namespace switchboard::testing {

// Writes ca.crt/.key, other-ca.crt/.key, server.crt/.key and client.crt/.key into `directory`
// (which must exist). False when openssl is missing or failed (its output is in openssl.log).
bool make_test_certificates(const std::string& directory);

}  // namespace switchboard::testing
