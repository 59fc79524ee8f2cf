#include "hub/relay_hub.hpp"

namespace switchboard::hub {

namespace {

bool path_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '.';
}

// "'text': why", by appends: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...) + ...
error bad_spec(std::string_view text, std::string_view why) {
    std::string message = "'";
    message.append(text).append("': ").append(why);
    return make_error(std::move(message));
}

}  // namespace

expected<relay_hub_spec> parse_relay_hub_spec(std::string_view text) {
    relay_hub_spec spec;
    const auto eq = text.find('=');
    spec.path = std::string(text.substr(0, eq));
    if (eq != std::string_view::npos) {
        spec.backplane_name = std::string(text.substr(eq + 1));
        if (spec.backplane_name.empty()) {
            return bad_spec(text, "empty backplane name after '=' (leave out '=' for the default)");
        }
    }
    while (spec.path.size() > 1 && spec.path.back() == '/') {
        spec.path.pop_back();
    }
    if (spec.path.size() < 2 || spec.path.front() != '/') {
        return bad_spec(text, "the path must start with '/' and name a hub");
    }
    for (const char c : spec.path) {
        if (!path_character(c)) {
            return bad_spec(text, "a hub path has letters, digits and / _ - . only");
        }
    }
    if (spec.path.find("..") != std::string::npos || spec.path.find("//") != std::string::npos) {
        return bad_spec(text, "no '..' or '//' in a hub path");
    }
    spec.name = spec.path.substr(spec.path.rfind('/') + 1);
    if (spec.backplane_name.empty()) {
        spec.backplane_name = spec.name;
    }
    for (const unsigned char c : spec.backplane_name) {
        if (c < 0x20 || c == 0x7f) {
            return bad_spec(text, "control characters in the backplane name");
        }
    }
    return spec;
}

std::shared_ptr<hub_definition> make_relay_hub(const relay_hub_spec& spec,
                                               relay_hub_options options) {
    auto hub = std::make_shared<hub_definition>(spec.name);
    hub->set_backplane_name(spec.backplane_name);
    if (!options.self_service_groups) {
        return hub;
    }
    // Completes once the membership is in effect on every instance, so a publication right
    // after JoinGroup returned reaches the new member.
    hub->method("JoinGroup",
                [groups = std::move(options.groups)](hub_context& context, std::string group,
                                                     reply<> answer) -> hub_result<> {
                    if (group.empty()) {
                        return hub_error("Group name must not be empty.");
                    }
                    if (!groups.allows(context, group)) {
                        return hub_error("Not allowed to join group '" + group + "'.");
                    }
                    context.add_to_group(context.connection_id(), group,
                                         [answer](const expected<void>& joined) mutable {
                                             if (!joined) {
                                                 return answer.fail(joined.get_error());
                                             }
                                             answer.ok();
                                         });
                    return {};
                });
    hub->method("LeaveGroup", [](hub_context& context, std::string group) -> hub_result<> {
        if (group.empty()) {
            return hub_error("Group name must not be empty.");
        }
        context.remove_from_group(context.connection_id(), group);
        return {};
    });
    return hub;
}

}  // namespace switchboard::hub
