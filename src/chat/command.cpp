#include "chat/command.hpp"

#include "core/ascii.hpp"

#include <array>

namespace switchboard::chat {

namespace {

struct spec {
    std::string_view name;
    command::kind type;
    // Words before the free text: 0 or 1. The free text, when taken, is everything after them.
    int words;
    bool takes_text;
    std::string_view usage;
};

constexpr std::array specs{
    spec{"/help", command::kind::help, 0, false, "/help"},
    spec{"/join", command::kind::join, 1, false, "/join <group>"},
    spec{"/leave", command::kind::leave, 1, false, "/leave <group>"},
    spec{"/group", command::kind::group, 1, true, "/group <group> <message>"},
    spec{"/dm", command::kind::dm, 1, true, "/dm <user> <message>"},
    spec{"/who", command::kind::who, 0, false, "/who"},
    spec{"/quit", command::kind::quit, 0, false, "/quit"},
};

// The first whitespace-separated word of `rest`, which then starts after it and its spaces.
std::string_view take_word(std::string_view& rest) {
    rest = ascii_trim(rest);
    std::size_t end = 0;
    while (end < rest.size() && !ascii_space(rest[end])) {
        ++end;
    }
    const auto word = rest.substr(0, end);
    rest = ascii_trim(rest.substr(end));
    return word;
}

}  // namespace

expected<command> parse_command(std::string_view line) {
    if (line.ends_with('\r')) {
        line.remove_suffix(1);
    }
    if (ascii_trim(line).empty()) {
        return command{};
    }
    if (!line.starts_with('/')) {
        return command{command::kind::say, {}, std::string(line)};
    }
    if (line.starts_with("//")) {
        return command{command::kind::say, {}, std::string(line.substr(1))};
    }
    std::string_view rest = line;
    const auto name = take_word(rest);
    for (const auto& s : specs) {
        if (!ascii_iequals(name, s.name)) {
            continue;
        }
        const auto usage = make_error("usage: " + std::string(s.usage));
        command out{s.type, {}, {}};
        if (s.words == 1) {
            out.target = std::string(take_word(rest));
            if (out.target.empty()) {
                return usage;
            }
        }
        if (s.takes_text) {
            if (rest.empty()) {
                return usage;
            }
            out.text = std::string(rest);
        } else if (!rest.empty()) {
            return usage;
        }
        return out;
    }
    return make_error("unknown command '" + std::string(name) +
                      "' (/help lists the commands; start with // to send text beginning with /)");
}

std::string_view help_text() noexcept {
    return "commands:\n"
           "  /help                     this list\n"
           "  /join <group>             join a group\n"
           "  /leave <group>            leave a group\n"
           "  /group <group> <message>  send to the members of a group\n"
           "  /dm <user> <message>      send to one user (all of their connections)\n"
           "  /who                      users seen connecting since this client started\n"
           "  /quit                     leave (end of input does the same)\n"
           "  anything else             send to everyone; //text sends /text";
}

}  // namespace switchboard::chat
