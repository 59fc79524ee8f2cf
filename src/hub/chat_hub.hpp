// The built-in chat hub (/hubs/chat): broadcast, direct messages, groups, presence events.
#pragma once

#include "hub/hub.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::hub {

// Which groups a caller may join and send to; leaving is always allowed.
struct chat_group_policy {
    enum class mode : unsigned char {
        open,      // any group: development, or clients that are all trusted
        patterns,  // names matching one of `patterns`
        roles,     // names matching a caller's role "group:PATTERN" ("group:*" for all)
    };
    mode kind = mode::open;
    // Shell-style (`*`, `?`); "{user}" stands for the caller's user id, so "dm-{user}-*" gives
    // each user groups of their own.
    std::vector<std::string> patterns;

    [[nodiscard]] bool allows(const hub_context& caller, std::string_view group) const;
};

// "open", "patterns" or "roles" with the patterns of the patterns mode; an error names what is
// wrong (an unknown mode, patterns mode without patterns).
expected<chat_group_policy> make_chat_group_policy(std::string_view mode,
                                                   std::vector<std::string> patterns);

struct chat_hub_options {
    // Longer chat messages are refused with an error; the connection stays usable.
    std::size_t max_message_length = 4096;
    chat_group_policy groups;
    // UserConnected/UserDisconnected to everyone and UserJoinedGroup/UserLeftGroup to the group:
    // what a chat page shows, but each arrival costs a message per connection, so N arrivals
    // cost N²/2; large audiences that do not show presence (dashboards, benchmarks) turn it off.
    bool presence_events = true;
};

std::shared_ptr<hub_definition> make_chat_hub(chat_hub_options options);

}  // namespace switchboard::hub
