// Who a request or connection speaks for, as an authentication hook established it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard {

// Kept free of auth/ types so that transports and hubs need no JWT (or OpenSSL) headers; the
// hook that fills it (http::authenticate_hook, auth/bearer.hpp for JWTs) decides where the
// values come from.
struct identity {
    std::string user_id;
    std::vector<std::string> roles;
    // Every claim as (type, value): a list claim gives one pair per element, and values that are
    // not strings keep their JSON text ("true", "42"), so policies compare text with text.
    std::vector<std::pair<std::string, std::string>> claims;
    // When the credential stops being valid (a token's exp); connections may be closed then.
    std::optional<std::chrono::system_clock::time_point> expires;

    [[nodiscard]] bool in_role(std::string_view role) const {
        for (const auto& candidate : roles) {
            if (candidate == role) {
                return true;
            }
        }
        return false;
    }

    // The values of claim `type`, in token order.
    [[nodiscard]] std::vector<std::string_view> claim_values(std::string_view type) const {
        std::vector<std::string_view> values;
        for (const auto& [name, value] : claims) {
            if (name == type) {
                values.emplace_back(value);
            }
        }
        return values;
    }
};

}  // namespace switchboard
