// The NATS backplane's entry in the backplane factory: its accepted forms and how a URL list
// becomes a nats_backplane.
#pragma once

#include "routing/backplane_factory.hpp"

namespace switchboard::routing::nats {

// Accepts "nats://" and "tls://" URLs, a comma-separated list of them for a cluster, with the
// options of connection_string.hpp as query parameters after the last URL.
void register_nats_backplane(backplane_factory& factory);

}  // namespace switchboard::routing::nats
