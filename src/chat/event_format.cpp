#include "chat/event_format.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <functional>

namespace switchboard::chat {

namespace {

// SGR sequences: the eight basic colours render on every terminal and respect its theme.
constexpr std::string_view reset = "\x1b[0m";
constexpr std::string_view dim = "\x1b[2m";
constexpr std::string_view bold = "\x1b[1m";
constexpr std::string_view red = "\x1b[31m";
constexpr std::string_view green = "\x1b[32m";
constexpr std::string_view yellow = "\x1b[33m";
constexpr std::string_view magenta = "\x1b[35m";
constexpr std::string_view cyan = "\x1b[36m";

// A user keeps one colour for the session, so a conversation is easy to follow. Blue, not black
// or white, which vanish on one of the two usual backgrounds.
std::string_view user_color(std::string_view user) {
    constexpr std::array palette{"\x1b[31m", "\x1b[32m", "\x1b[33m",
                                 "\x1b[34m", "\x1b[35m", "\x1b[36m"};
    return palette[std::hash<std::string_view>{}(user) % palette.size()];
}

class line_builder {
public:
    explicit line_builder(bool color) : color_(color) {}
    line_builder& styled(std::string_view style, std::string_view text) {
        if (color_) {
            out_.append(style).append(text).append(reset);
        } else {
            out_.append(text);
        }
        return *this;
    }
    line_builder& plain(std::string_view text) {
        out_.append(text);
        return *this;
    }
    line_builder& peer(std::string_view text) { return plain(printable(text)); }
    line_builder& peer_styled(std::string_view style, std::string_view text) {
        return styled(style, printable(text));
    }
    std::string take() { return std::move(out_); }

private:
    bool color_;
    std::string out_;
};

}  // namespace

std::string format_clock(std::chrono::system_clock::time_point at) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
    std::tm local{};
    localtime_r(&seconds, &local);
    std::array<char, 16> text{};
    std::snprintf(text.data(), text.size(), "%02d:%02d:%02d", local.tm_hour, local.tm_min,
                  local.tm_sec);
    return text.data();
}

std::string_view hub_error_text(std::string_view error) noexcept {
    constexpr std::string_view prefix = "An unexpected error occurred invoking '";
    constexpr std::string_view marker = "' on the server. HubException: ";
    if (!error.starts_with(prefix)) {
        return error;
    }
    const auto at = error.find(marker, prefix.size());
    return at == std::string_view::npos ? error : error.substr(at + marker.size());
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            out.push_back('^');
            out.push_back(static_cast<char>(byte ^ 0x40));
        } else if (byte == 0xc2 && i + 1 < text.size() &&
                   static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
            // U+0080..U+009F: C1 controls, which some terminals obey (0x9b is CSI).
            std::array<char, 8> escaped{};
            std::snprintf(escaped.data(), escaped.size(), "\\u%04x",
                          static_cast<unsigned>(static_cast<unsigned char>(text[i + 1])));
            out.append(escaped.data());
            ++i;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string format_event(const chat_event& event, bool color) {
    using kind = chat_event::kind;
    line_builder line(color);
    // Local answers (help, /who, usage errors) come right after the command: no clock.
    if (event.type != kind::notice && event.type != kind::error) {
        line.styled(dim, format_clock(event.at)).plain(" ");
    }
    switch (event.type) {
    case kind::message:
        line.peer_styled(user_color(event.user), event.user).plain(": ").peer(event.text);
        break;
    case kind::direct_message:
        line.styled(magenta, "[dm]")
            .plain(" ")
            .peer_styled(user_color(event.user), event.user)
            .plain(": ")
            .peer(event.text);
        break;
    case kind::group_message:
        line.peer_styled(cyan, "[" + event.group + "]")
            .plain(" ")
            .peer_styled(user_color(event.user), event.user)
            .plain(": ")
            .peer(event.text);
        break;
    case kind::joined_group:
    case kind::left_group: {
        const auto verb = event.type == kind::joined_group ? " joined group " : " left group ";
        line.styled(dim, "* " + printable(event.user) + verb + printable(event.group));
        break;
    }
    case kind::user_connected:
        line.styled(dim, "* " + printable(event.user) + " connected");
        break;
    case kind::user_disconnected:
        line.styled(dim, "* " + printable(event.user) + " disconnected");
        break;
    case kind::reconnecting:
        line.styled(yellow, event.text.empty() ? "reconnecting…"
                                               : "reconnecting… (" + printable(event.text) + ")");
        break;
    case kind::reconnected:
        line.styled(green, "reconnected");
        break;
    case kind::disconnected:
        line.styled(red, "disconnected: " + printable(event.text));
        break;
    case kind::notice:
        line.peer(event.text);
        break;
    case kind::error:
        line.styled(std::string(bold) + std::string(red), "error: " + printable(event.text));
        break;
    }
    return line.take();
}

}  // namespace switchboard::chat
