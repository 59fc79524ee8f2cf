// `switchboard doctor`: checks serve's settings against this machine before a deploy.
#pragma once

#include "server/server_options.hpp"

namespace switchboard::apps {

// Checks the descriptor limit against --max-connections, the backplane (reachable, round trip
// of a publication between two connections), the clock against Redis's (JWT expiry), the TLS
// files, and that --listen is free. Prints one line per check and the fix for each failure;
// returns 0 when everything passed, 1 otherwise.
int run_doctor(const server_options& options);

}  // namespace switchboard::apps
