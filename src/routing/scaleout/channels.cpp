#include "routing/scaleout/channels.hpp"

#include <array>
#include <utility>

namespace switchboard::routing::scaleout {

namespace {

// The infixes after the hub name, exactly as RedisChannels.cs spells them.
constexpr std::string_view all_suffix = ":all";
constexpr std::string_view connection_infix = ":connection:";
constexpr std::string_view user_infix = ":user:";
constexpr std::string_view group_infix = ":group:";
constexpr std::string_view internal_groups_suffix = ":internal:groups";
constexpr std::string_view internal_ack_infix = ":internal:ack:";
constexpr std::string_view internal_return_infix = ":internal:return:";

}  // namespace

channels::channels(std::string channel_prefix, std::string hub_name)
    : prefix_(std::move(channel_prefix)), hub_name_(std::move(hub_name)) {
    all_ = build(all_suffix, {});
    internal_groups_ = build(internal_groups_suffix, {});
}

std::string channels::build(std::string_view infix, std::string_view id) const {
    std::string out;
    out.reserve(prefix_.size() + hub_name_.size() + infix.size() + id.size());
    out.append(prefix_).append(hub_name_).append(infix).append(id);
    return out;
}

std::string channels::connection(std::string_view connection_id) const {
    return build(connection_infix, connection_id);
}

std::string channels::user(std::string_view user_id) const {
    return build(user_infix, user_id);
}

std::string channels::group(std::string_view group_name) const {
    return build(group_infix, group_name);
}

std::string channels::internal_ack(std::string_view server_name) const {
    return build(internal_ack_infix, server_name);
}

std::string channels::internal_return(std::string_view server_name) const {
    return build(internal_return_infix, server_name);
}

std::string channels::return_address(std::string_view server_name) const {
    std::string out;
    out.reserve(hub_name_.size() + internal_return_infix.size() + server_name.size());
    out.append(hub_name_).append(internal_return_infix).append(server_name);
    return out;
}

std::string channels::with_prefix(std::string_view unprefixed) const {
    std::string out;
    out.reserve(prefix_.size() + unprefixed.size());
    out.append(prefix_).append(unprefixed);
    return out;
}

std::optional<parsed_channel> channels::parse(std::string_view wire_channel) const {
    if (!wire_channel.starts_with(prefix_)) {
        return std::nullopt;
    }
    wire_channel.remove_prefix(prefix_.size());
    if (!wire_channel.starts_with(hub_name_)) {
        return std::nullopt;
    }
    wire_channel.remove_prefix(hub_name_.size());

    // Whole-name kinds first: "all" and "internal:groups" take no id, so a trailing byte
    // makes the name foreign rather than an id.
    if (wire_channel == all_suffix) {
        return parsed_channel{channel_kind::all, {}};
    }
    if (wire_channel == internal_groups_suffix) {
        return parsed_channel{channel_kind::internal_groups, {}};
    }
    // The infixes are distinct and none is a prefix of another, so the first match is the
    // only one; everything after it is the id, ':' included.
    static constexpr std::array<std::pair<std::string_view, channel_kind>, 5> infixes{{
        {connection_infix, channel_kind::connection},
        {user_infix, channel_kind::user},
        {group_infix, channel_kind::group},
        {internal_ack_infix, channel_kind::internal_ack},
        {internal_return_infix, channel_kind::internal_return},
    }};
    for (const auto& [infix, kind] : infixes) {
        if (wire_channel.starts_with(infix)) {
            return parsed_channel{kind, wire_channel.substr(infix.size())};
        }
    }
    return std::nullopt;
}

}  // namespace switchboard::routing::scaleout
