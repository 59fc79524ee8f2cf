// Unguessable identifiers: connection ids and connection tokens.
#pragma once

#include <string>

namespace switchboard {

// 16 bytes (128 bits) from the kernel's CSPRNG, Base64Url without padding: 22 URL-safe chars,
// because the JS client appends tokens to URLs without encoding them.
std::string make_random_id();

}  // namespace switchboard
