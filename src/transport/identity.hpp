// Who a request or connection speaks for, as an authentication hook established it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::transport {

// Kept free of auth/ types so that transports and hubs need no JWT (or OpenSSL) headers; the
// hook that fills it (auth/bearer.hpp for JWTs) decides where the values come from.
struct identity {
    std::string user_id;
    std::vector<std::string> roles;

    [[nodiscard]] bool in_role(std::string_view role) const {
        for (const auto& candidate : roles) {
            if (candidate == role) {
                return true;
            }
        }
        return false;
    }
};

}  // namespace switchboard::transport
