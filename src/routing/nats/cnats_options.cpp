#include "routing/nats/cnats_options.hpp"

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::routing::nats {

void open_library() {
    static std::once_flag once;
    std::call_once(once, [] {
        // -1: cnats' default spin count for its locks. Never closed: the library's threads are
        // shared by every connection of the process and end with it.
        if (const auto status = nats_Open(-1); status != NATS_OK) {
            throw std::runtime_error(std::string("NATS library: ") + natsStatus_GetText(status));
        }
    });
}

void check(natsStatus status, std::string_view context, std::string_view what) {
    if (status == NATS_OK) {
        return;
    }
    std::string message(context);
    message += ' ';
    message += what;
    message += ": ";
    message += natsStatus_GetText(status);
    if (const char* detail = nats_GetLastError(nullptr); detail != nullptr && *detail != '\0') {
        message += " (";
        message += detail;
        message += ')';
    }
    throw std::invalid_argument(message);
}

void apply_connection(natsOptions* options, const connection_options& c, std::string_view context) {
    const auto ok = [context](natsStatus status, std::string_view what) {
        check(status, context, what);
    };
    std::vector<const char*> servers;
    for (const auto& s : c.servers) {
        servers.push_back(s.c_str());
    }
    ok(natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size())),
       "server list");
    if (!c.user.empty() || !c.password.empty()) {
        ok(natsOptions_SetUserInfo(options, c.user.c_str(), c.password.c_str()), "user");
    }
    if (!c.token.empty()) {
        ok(natsOptions_SetToken(options, c.token.c_str()), "token");
    }
    if (!c.creds_file.empty()) {
        ok(natsOptions_SetUserCredentialsFromFiles(options, c.creds_file.c_str(), nullptr),
           "creds");
    }
    if (!c.tls) {
        return;
    }
    ok(natsOptions_SetSecure(options, true), "TLS");
    if (!c.tls_ca_file.empty()) {
        ok(natsOptions_LoadCATrustedCertificates(options, c.tls_ca_file.c_str()), "tls_ca");
    }
    if (!c.tls_cert_file.empty()) {
        ok(natsOptions_LoadCertificatesChain(options, c.tls_cert_file.c_str(),
                                             c.tls_key_file.c_str()),
           "tls_cert/tls_key");
    }
    if (!c.tls_hostname.empty()) {
        ok(natsOptions_SetExpectedHostname(options, c.tls_hostname.c_str()), "tls_hostname");
    }
    if (c.tls_insecure_skip_verify) {
        ok(natsOptions_SkipServerVerification(options, true), "tls_insecure");
    }
}

}  // namespace switchboard::routing::nats
