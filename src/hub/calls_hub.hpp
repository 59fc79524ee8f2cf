// The built-in calls hub (/hubs/calls): one-to-one call sessions (ring, accept, reject, end)
// and a relay for WebRTC signalling, with the session in the cluster's shared state so any
// instance serves any step and a restart loses nothing (docs/presence.md, "Calls").
#pragma once

#include "hub/hub.hpp"

#include <chrono>
#include <memory>

namespace switchboard::hub {

struct calls_hub_options {
    // A session lives this long at most (the telemedicine app's 4 hours): a call nobody ended
    // is gone after it without anyone cleaning up.
    std::chrono::milliseconds session_ttl{std::chrono::hours(4)};
    // A party offline (no connection anywhere) this long ends its calls: long enough for a
    // page reload or a network switch (the JS client's reconnect tries 0, 2, 10, 30 s).
    std::chrono::milliseconds grace{std::chrono::seconds(30)};
};

std::shared_ptr<hub_definition> make_calls_hub(calls_hub_options options = {});

}  // namespace switchboard::hub
