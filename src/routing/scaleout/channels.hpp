// Channel names of the ASP.NET Core SignalR scale-out format, for one hub: the logical names
// the router speaks over every bus (a bus maps them at its edge, backplane.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::routing::scaleout {

// What a channel carries, as told by its name (the payload carries no type, backplanes.md §2).
enum class channel_kind {
    all,              // Invocation
    connection,       // Invocation, 2 or 4 items
    user,             // Invocation
    group,            // Invocation
    internal_groups,  // Group command
    internal_ack,     // Ack
    internal_return,  // Completion
};

// A wire channel taken apart: its kind and the id after the kind's infix (connection id, user
// id, group name or server name; empty for all and internal_groups).
struct parsed_channel {
    channel_kind kind;
    std::string_view id;
};

// The channel names ASP.NET derives from the hub's CLR full name (backplanes.md §1.2), with the
// StackExchange.Redis ChannelPrefix glued on as raw bytes, no separator (§1.3). Names and ids
// are appended verbatim: no escaping, so `*` or `:` in a group name round-trip untouched, and
// a bus must treat them as exact names, never patterns (Redis: SUBSCRIBE, never PSUBSCRIBE); a
// bus with limited names maps them at its edge (channel_codec.hpp).
//
// Every builder returns the full name, prefix included, to subscribe and publish, except
// return_address(), which is the form embedded inside a client-result invocation: .NET stores
// it without the prefix and re-applies its own when it publishes the reply.
// Thread safety: immutable after construction.
class channels {
public:
    // `hub_name` is the .NET hub's typeof(THub).FullName, e.g. "MyApp.Hubs.ChatHub".
    channels(std::string channel_prefix, std::string hub_name);

    [[nodiscard]] const std::string& channel_prefix() const noexcept { return prefix_; }
    [[nodiscard]] const std::string& hub_name() const noexcept { return hub_name_; }

    [[nodiscard]] const std::string& all() const noexcept { return all_; }
    // AllExcept rides on the all channel: the exclusions travel inside the message (§3.6).
    [[nodiscard]] const std::string& all_except() const noexcept { return all_; }
    [[nodiscard]] std::string connection(std::string_view connection_id) const;
    [[nodiscard]] std::string user(std::string_view user_id) const;
    [[nodiscard]] std::string group(std::string_view group_name) const;
    [[nodiscard]] const std::string& internal_groups() const noexcept { return internal_groups_; }
    [[nodiscard]] std::string internal_ack(std::string_view server_name) const;
    [[nodiscard]] std::string internal_return(std::string_view server_name) const;

    // "{hub}:internal:return:{server}" without the prefix: what goes into item [3] of a
    // client-result invocation.
    [[nodiscard]] std::string return_address(std::string_view server_name) const;

    // The wire channel for a name that came without the prefix (the return address of a
    // received client-result invocation).
    [[nodiscard]] std::string with_prefix(std::string_view unprefixed) const;

    // Recognises a wire channel of this hub (prefix included); nullopt for anything else,
    // which StackExchange.Redis would drop as well. The id views into `wire_channel`.
    [[nodiscard]] std::optional<parsed_channel> parse(std::string_view wire_channel) const;

private:
    [[nodiscard]] std::string build(std::string_view infix, std::string_view id) const;

    std::string prefix_;
    std::string hub_name_;
    std::string all_;
    std::string internal_groups_;
};

}  // namespace switchboard::routing::scaleout
