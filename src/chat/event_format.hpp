// Turns what happens in a chat (hub events, connection changes, local notices) into one line
// for the console, with ANSI colour only when the caller asks for it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace switchboard::chat {

struct chat_event {
    enum class kind : unsigned char {
        message,            // user: text
        direct_message,     // user (the sender): text
        group_message,      // group, user: text
        joined_group,       // user, group
        left_group,         // user, group
        user_connected,     // user
        user_disconnected,  // user
        reconnecting,       // text: why the connection was lost (may be empty)
        reconnected,
        disconnected,  // text: the reason
        notice,        // text: a local message (help, /who, connected)
        error,         // text: a usage error or the server's error for a command
    };
    kind type = kind::notice;
    std::string user;
    std::string group;
    std::string text;
    std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
};

// "HH:MM:SS" in local time.
std::string format_clock(std::chrono::system_clock::time_point at);

// One line, without a line break: "HH:MM:SS alice: hi", "HH:MM:SS [group] alice: hi",
// "HH:MM:SS [dm] alice: hi", "HH:MM:SS * alice joined group x", "HH:MM:SS reconnecting…", ...
// Notices and errors, answers to what was just typed, have no clock: "error: usage: /dm ...".
// Control characters from the network are shown as ^X (C1 ones as \u0080 style escapes) so a
// peer cannot move the cursor, clear the screen or retitle the terminal.
std::string format_event(const chat_event& event, bool color);

// The hub's own words in an invocation error: ASP.NET and Switchboard wrap a HubException's
// message as "An unexpected error occurred invoking 'M' on the server. HubException: <message>";
// a person wants <message>. Other errors are returned as they are.
std::string_view hub_error_text(std::string_view error) noexcept;

// Text from a peer made safe to print: control characters made visible.
std::string printable(std::string_view text);

}  // namespace switchboard::chat
