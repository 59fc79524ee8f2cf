// The hubs of the ASP.NET SignalR functional-test server, written with Switchboard's hub API:
// TestHub (served at /testhub and /testhub-nowebsockets) and the hub behind /authorizedhub.
#pragma once

#include "hub/hub.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace conformance {

// The connected callers of a hub, for server code that runs outside a hub method: the
// /clientresult route uses it the way ASP.NET code uses IHubContext<T>.Clients.Client(id).
// Thread safety: any thread.
class caller_registry {
public:
    void add(const switchboard::hub::hub_clients& caller);
    void remove(const std::string& connection_id);
    [[nodiscard]] std::optional<switchboard::hub::hub_clients> find(
        const std::string& connection_id) const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, switchboard::hub::hub_clients> callers_;
};

std::shared_ptr<switchboard::hub::hub_definition> make_test_hub(
    std::shared_ptr<caller_registry> callers);

// Echo(message) for authenticated callers, plus GetUserIdentifier() (not in the ASP.NET app)
// so tests can see who the server thinks the caller is.
std::shared_ptr<switchboard::hub::hub_definition> make_authorized_hub();

}  // namespace conformance
