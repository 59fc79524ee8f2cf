// The Redis backplane's entry in the backplane factory: its accepted forms and how a
// connection string becomes a redis_backplane.
#pragma once

#include "routing/backplane_factory.hpp"

namespace switchboard::routing::redis {

// Accepts "redis://", "rediss://" and, as the catch-all for a spec without a scheme, the
// StackExchange.Redis form "host:port,password=...,channelPrefix=...": add it after the buses
// named by a word or another scheme.
void register_redis_backplane(backplane_factory& factory);

}  // namespace switchboard::routing::redis
