#include "events/names.hpp"

#include "auth/policy.hpp"

#include <algorithm>

namespace switchboard::events {

namespace {

constexpr std::string_view user_placeholder = "{user}";

std::string for_user(std::string_view pattern, std::string_view user) {
    std::string out;
    for (auto at = pattern.find(user_placeholder); at != std::string_view::npos;
         at = pattern.find(user_placeholder)) {
        out.append(pattern.substr(0, at)).append(user);
        pattern.remove_prefix(at + user_placeholder.size());
    }
    return out.append(pattern);
}

}  // namespace

bool valid_channel(std::string_view channel) {
    return !channel.empty() && channel.size() <= max_channel_size &&
           std::all_of(channel.begin(), channel.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool valid_type(std::string_view type) {
    return !type.empty() && type.size() <= max_type_size &&
           std::all_of(type.begin(), type.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-' || c == ':';
           });
}

bool channel_patterns::matches(std::string_view channel, std::string_view user) const {
    return std::any_of(patterns_.begin(), patterns_.end(), [&](const std::string& pattern) {
        if (pattern.find(user_placeholder) == std::string::npos) {
            return auth::glob_match(pattern, channel);
        }
        // A user id holding `*` or `?` would widen the pattern: such a caller gets no match.
        return !user.empty() && user.find_first_of("*?") == std::string_view::npos &&
               auth::glob_match(for_user(pattern, user), channel);
    });
}

}  // namespace switchboard::events
