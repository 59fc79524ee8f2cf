// Relay hubs (`serve --hub /hubs/notifications`): hubs with no code whose clients receive what
// others publish into the backplane (switchboard publish, a .NET IHubContext, another hub),
// optionally joining and leaving groups themselves.
#pragma once

#include "hub/chat_hub.hpp"
#include "hub/hub.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace switchboard::hub {

// One `--hub PATH[=BACKPLANE_NAME]` flag. The hub's name (for --authorize) is the path's last
// segment ("notifications"); its backplane name defaults to that, or is the .NET hub's full
// type name to share a Redis with ASP.NET Core ("Diquis.Infrastructure.Services.NotificationHub").
struct relay_hub_spec {
    std::string path;
    std::string name;
    std::string backplane_name;
};

// An error names what is wrong: a path not starting with '/', an empty name, a path with
// "..", a query or characters beyond [A-Za-z0-9/_.-].
expected<relay_hub_spec> parse_relay_hub_spec(std::string_view text);

struct relay_hub_options {
    // JoinGroup(group)/LeaveGroup(group) for the caller itself; off, a relay hub has no
    // methods and only the publisher decides who is in a group (the publisher library's group
    // changes, the REST API).
    bool self_service_groups = false;
    // Which groups JoinGroup accepts (the chat hub's policy and flags); leaving is always allowed.
    chat_group_policy groups;
};

std::shared_ptr<hub_definition> make_relay_hub(const relay_hub_spec& spec,
                                               relay_hub_options options);

}  // namespace switchboard::hub
