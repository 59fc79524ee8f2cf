#include "routing/redis/connection_string.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

namespace switchboard::routing::redis {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

template <class Int>
bool parse_int(std::string_view text, Int& out) {
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && ptr == end && !text.empty();
}

expected<std::uint16_t> parse_port(std::string_view text, std::string_view context) {
    unsigned value = 0;
    if (!parse_int(text, value) || value == 0 ||
        value > std::numeric_limits<std::uint16_t>::max()) {
        return make_error("invalid Redis port '" + std::string(text) + "' in '" +
                          std::string(context) + "': expected 1-65535");
    }
    return static_cast<std::uint16_t>(value);
}

expected<int> parse_database(std::string_view text, std::string_view context) {
    int value = 0;
    if (!parse_int(text, value) || value < 0) {
        return make_error("invalid Redis database '" + std::string(text) + "' in '" +
                          std::string(context) + "': expected a number >= 0");
    }
    return value;
}

// "host", "host:port", "[v6]", "[v6]:port".
expected<void> parse_endpoint(std::string_view endpoint, connection_options& options) {
    std::string_view host = endpoint;
    std::string_view port;
    if (!endpoint.empty() && endpoint.front() == '[') {
        const auto close = endpoint.find(']');
        if (close == std::string_view::npos) {
            return make_error("invalid Redis endpoint '" + std::string(endpoint) +
                              "': missing ']' after an IPv6 address");
        }
        host = endpoint.substr(1, close - 1);
        const auto rest = endpoint.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return make_error("invalid Redis endpoint '" + std::string(endpoint) +
                                  "': expected ':port' after ']'");
            }
            port = rest.substr(1);
            if (port.empty()) {
                return make_error("invalid Redis endpoint '" + std::string(endpoint) +
                                  "': empty port");
            }
        }
    } else if (const auto colon = endpoint.rfind(':'); colon != std::string_view::npos) {
        if (endpoint.find(':') != colon) {
            return make_error("invalid Redis endpoint '" + std::string(endpoint) +
                              "': write IPv6 addresses in brackets, e.g. [::1]:6379");
        }
        host = endpoint.substr(0, colon);
        port = endpoint.substr(colon + 1);
        if (port.empty()) {
            return make_error("invalid Redis endpoint '" + std::string(endpoint) + "': empty port");
        }
    }
    if (host.empty()) {
        return make_error("invalid Redis endpoint '" + std::string(endpoint) + "': empty host");
    }
    options.host = std::string(host);
    if (!port.empty()) {
        auto parsed = parse_port(port, endpoint);
        if (!parsed) {
            return parsed.get_error();
        }
        options.port = *parsed;
    }
    return {};
}

expected<bool> parse_bool(std::string_view key, std::string_view value) {
    if (iequals(value, "true")) {
        return true;
    }
    if (iequals(value, "false")) {
        return false;
    }
    return make_error("invalid value '" + std::string(value) + "' for Redis option '" +
                      std::string(key) + "': expected true or false");
}

expected<connection_options> parse_options_form(std::string_view text) {
    connection_options options;
    bool have_endpoint = false;
    while (true) {
        const auto comma = text.find(',');
        const auto token = trim(text.substr(0, comma));
        if (!token.empty()) {
            const auto equals = token.find('=');
            if (equals == std::string_view::npos) {
                if (have_endpoint) {
                    // StackExchange.Redis would spread over them; one Redis node is what the
                    // pub/sub backplane needs (Cluster is a separate backplane).
                    options.notes.push_back("Redis endpoint '" + std::string(token) +
                                            "' ignored: only the first endpoint is used");
                } else {
                    if (auto parsed = parse_endpoint(token, options); !parsed) {
                        return parsed.get_error();
                    }
                    have_endpoint = true;
                }
            } else {
                const auto key = trim(token.substr(0, equals));
                // The token is trimmed as a whole, as StackExchange.Redis does; spaces inside
                // a value (a password) are kept.
                const auto value = token.substr(equals + 1);
                if (key.empty()) {
                    return make_error("invalid Redis option '" + std::string(token) +
                                      "': empty key");
                }
                if (iequals(key, "password")) {
                    options.password = std::string(value);
                } else if (iequals(key, "user")) {
                    options.user = std::string(value);
                } else if (iequals(key, "ssl")) {
                    auto flag = parse_bool(key, trim(value));
                    if (!flag) {
                        return flag.get_error();
                    }
                    options.tls = *flag;
                } else if (iequals(key, "abortConnect")) {
                    // Validated for typos, otherwise moot: the client never gives up, it
                    // reconnects with backoff and /readyz reports the outage.
                    if (auto flag = parse_bool(key, trim(value)); !flag) {
                        return flag.get_error();
                    }
                } else if (iequals(key, "channelPrefix")) {
                    options.channel_prefix = std::string(value);
                } else if (iequals(key, "defaultDatabase")) {
                    auto database = parse_database(trim(value), token);
                    if (!database) {
                        return database.get_error();
                    }
                    options.database = *database;
                } else {
                    options.notes.push_back("Redis option '" + std::string(key) +
                                            "' is not supported and was ignored");
                }
            }
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    if (!have_endpoint) {
        return make_error("Redis connection string has no endpoint (expected host:port first)");
    }
    return options;
}

expected<connection_options> parse_url_form(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) {
        return make_error("invalid Redis URL '" + std::string(text) +
                          "': " + parsed.error().message());
    }
    const auto& url = *parsed;
    connection_options options;
    options.tls = iequals(url.scheme(), "rediss");
    if (!url.has_authority() || url.encoded_host().empty()) {
        return make_error("invalid Redis URL '" + std::string(text) + "': missing host");
    }
    // host_address() drops an IPv6 literal's brackets and decodes percent-escapes.
    options.host = url.host_address();
    if (url.has_port()) {
        auto port = parse_port(url.port(), text);
        if (!port) {
            return port.get_error();
        }
        options.port = *port;
    }
    if (url.has_userinfo()) {
        if (url.has_password()) {
            options.user = url.user();
            options.password = url.password();
        } else {
            // redis://secret@host: a lone userinfo is the password (there is no user without
            // one), as redis-cli and most client libraries read it.
            options.password = url.user();
        }
    }
    std::string_view path = url.encoded_path();
    if (!path.empty() && path != "/") {
        auto database = parse_database(path.substr(1), text);
        if (!database) {
            return database.get_error();
        }
        options.database = *database;
    }
    if (url.has_query() || url.has_fragment()) {
        options.notes.push_back("query and fragment of the Redis URL were ignored");
    }
    return options;
}

}  // namespace

expected<connection_options> parse_connection_string(std::string_view text) {
    text = trim(text);
    if (text.empty()) {
        return make_error("Redis connection string is empty");
    }
    if (starts_with_icase(text, "redis://") || starts_with_icase(text, "rediss://")) {
        return parse_url_form(text);
    }
    if (text.find("://") != std::string_view::npos) {
        return make_error("unsupported Redis URL scheme in '" + std::string(text) +
                          "': expected redis:// or rediss://");
    }
    return parse_options_form(text);
}

}  // namespace switchboard::routing::redis
