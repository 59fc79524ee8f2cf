// What a line typed into `switchboard chat` asks for: a slash command or text for everyone.
#pragma once

#include "core/expected.hpp"

#include <string>
#include <string_view>

namespace switchboard::chat {

struct command {
    enum class kind : unsigned char {
        none,  // an empty or blank line: nothing to do
        say,   // text for everyone (SendMessage)
        help,
        join,   // target: the group
        leave,  // target: the group
        group,  // target: the group, text: the message
        dm,     // target: the user, text: the message
        who,
        quit,
    };
    kind type = kind::none;
    std::string target;
    std::string text;
};

// Parses one line (without its line break; a trailing '\r' is ignored). Unknown commands and
// missing or extra arguments are errors whose message says the usage. "//text" says "/text".
expected<command> parse_command(std::string_view line);

// The help screen: one command per line.
std::string_view help_text() noexcept;

}  // namespace switchboard::chat
