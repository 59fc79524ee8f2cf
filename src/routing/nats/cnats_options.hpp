// What the NATS backplane and the NATS presence store share of cnats: the library opened once,
// status checks that name what cnats refused, and a connection string applied to cnats options.
#pragma once

#include "routing/nats/connection_string.hpp"

#include <nats/nats.h>

#include <string_view>

namespace switchboard::routing::nats {

// Once per process; throws std::runtime_error when cnats cannot start.
void open_library();

// Throws std::invalid_argument "<context> <what>: <status> (<cnats' detail>)" unless NATS_OK:
// at startup, so a bad connection string stops the server with the reason.
void check(natsStatus status, std::string_view context, std::string_view what);

// The servers, credentials (user and password, token or creds file) and TLS settings of `c`;
// the caller adds what is its own (name, timeouts, callbacks). Throws as check().
void apply_connection(natsOptions* options, const connection_options& c, std::string_view context);

}  // namespace switchboard::routing::nats
