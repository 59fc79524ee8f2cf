#include "chat/chat_options.hpp"

#include "core/ascii.hpp"
#include "core/duration.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace switchboard::chat {

namespace {

// "'text' <what>", by appends: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
error quoted_error(std::string_view text, std::string_view what) {
    std::string message(1, '\'');
    message.append(text).append("' ").append(what);
    return make_error(std::move(message));
}

}  // namespace

expected<std::vector<std::chrono::milliseconds>> parse_reconnect_delays(std::string_view text) {
    std::vector<std::chrono::milliseconds> delays;
    if (ascii_iequals(ascii_trim(text), "none")) {
        return delays;
    }
    while (true) {
        const auto comma = text.find(',');
        const auto item = ascii_trim(text.substr(0, comma));
        const auto delay = parse_duration(item);
        if (!delay) {
            return quoted_error(item, "is not a duration such as 0, 500ms, 2s (or 'none')");
        }
        delays.push_back(*delay);
        if (comma == std::string_view::npos) {
            return delays;
        }
        text.remove_prefix(comma + 1);
    }
}

expected<client::transport_type> parse_transport(std::string_view name) {
    using client::transport_type;
    if (ascii_iequals(name, "websockets")) {
        return transport_type::websockets;
    }
    if (ascii_iequals(name, "sse")) {
        return transport_type::server_sent_events;
    }
    if (ascii_iequals(name, "longpolling")) {
        return transport_type::long_polling;
    }
    if (ascii_iequals(name, "auto")) {
        return transport_type::all;
    }
    return make_error("unknown transport '" + std::string(name) +
                      "' (expected websockets, sse, longpolling or auto)");
}

expected<std::string> chat_url(std::string_view url, std::string_view user) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return quoted_error(url, "is not a URL");
    }
    boost::urls::url out = *parsed;
    const auto scheme = out.scheme();
    if (scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss") {
        return quoted_error(url, "is not an http(s) or ws(s) URL");
    }
    if (!out.has_authority() || out.host().empty()) {
        return quoted_error(url, "has no host");
    }
    if (!user.empty()) {
        out.params().set("user", user);
    }
    return std::string(out.buffer());
}

}  // namespace switchboard::chat
