// How a request proves who sends it: the hook endpoints call and auth/ implements (JWT bearer).
#pragma once

#include "core/expected.hpp"
#include "core/identity.hpp"
#include "http/server.hpp"

#include <functional>

namespace switchboard::http {

// Establishes who sends a request (e.g. from a bearer token); an error refuses it. The message
// is logged at debug level only: it says why a token is bad, which is for operators, not peers.
using authenticate_hook = std::function<expected<identity>(const request&)>;

}  // namespace switchboard::http
