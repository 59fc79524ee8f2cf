#include "routing/nats/cnats_options.hpp"

#include <algorithm>
#include <limits>

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

void apply_reconnect(natsOptions* options, const reconnect_policy& policy,
                     std::string_view context) {
    check(natsOptions_SetTimeout(options, policy.connect_timeout.count()), context, "timeout");
    check(natsOptions_SetReconnectWait(options, policy.wait.count()), context, "reconnect");
    check(natsOptions_SetReconnectJitter(options, policy.jitter.count(), policy.jitter_tls.count()),
          context, "reconnect");
    // 0 would be cnats' 8 MiB default rather than no buffer: the option's own default.
    const auto buffer = std::min<std::size_t>(policy.buffer_bytes, std::numeric_limits<int>::max());
    check(natsOptions_SetReconnectBufSize(options, static_cast<int>(buffer)), context,
          "reconnect buffer");
}

void apply_lifecycle(natsOptions* options, const lifecycle_callbacks& callbacks, void* closure,
                     std::string_view context) {
    check(natsOptions_SetMaxReconnect(options, -1), context, "reconnect");  // -1: for ever
    check(natsOptions_SetRetryOnFailedConnect(options, true, callbacks.connected, closure), context,
          "retry");
    check(natsOptions_SetDisconnectedCB(options, callbacks.disconnected, closure), context,
          "callbacks");
    check(natsOptions_SetReconnectedCB(options, callbacks.reconnected, closure), context,
          "callbacks");
    check(natsOptions_SetClosedCB(options, callbacks.closed, closure), context, "callbacks");
}

void retired_subscriptions::retire(natsSubscription* subscription) {
    natsSubscription_Unsubscribe(subscription);
    const auto now = clock::now();
    std::lock_guard lock(mutex_);
    free_retired_before(now - grace);
    retired_.emplace_back(subscription, now);
}

void retired_subscriptions::free_all() {
    std::lock_guard lock(mutex_);
    free_retired_before(clock::time_point::max());
}

void retired_subscriptions::free_retired_before(clock::time_point before) {
    // natsSubscription_Destroy of an unsubscribed subscription only drops a reference: no I/O.
    while (!retired_.empty() && retired_.front().second <= before) {
        natsSubscription_Destroy(retired_.front().first);
        retired_.pop_front();
    }
}

}  // namespace switchboard::routing::nats
