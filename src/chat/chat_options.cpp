#include "chat/chat_options.hpp"

#include "core/ascii.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace switchboard::chat {

namespace {

// "'url' <what>", by appends: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
error url_error(std::string_view url, std::string_view what) {
    std::string text(1, '\'');
    text.append(url).append("' ").append(what);
    return make_error(std::move(text));
}

}  // namespace

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
        return url_error(url, "is not a URL");
    }
    boost::urls::url out = *parsed;
    const auto scheme = out.scheme();
    if (scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss") {
        return url_error(url, "is not an http(s) or ws(s) URL");
    }
    if (!out.has_authority() || out.host().empty()) {
        return url_error(url, "has no host");
    }
    if (!user.empty()) {
        out.params().set("user", user);
    }
    return std::string(out.buffer());
}

}  // namespace switchboard::chat
