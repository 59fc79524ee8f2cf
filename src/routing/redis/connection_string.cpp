#include "routing/redis/connection_string.hpp"

#include "core/ascii.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

namespace switchboard::routing::redis {

namespace {

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
    if (ascii_iequals(value, "true")) {
        return true;
    }
    if (ascii_iequals(value, "false")) {
        return false;
    }
    return make_error("invalid value '" + std::string(value) + "' for Redis option '" +
                      std::string(key) + "': expected true or false");
}

// The keys both forms share (Switchboard's own TLS and cluster keys, channelPrefix). False
// when the key is not one of them.
expected<bool> apply_common_option(std::string_view key, std::string_view value,
                                   connection_options& options) {
    auto flag = [&](bool& into) -> expected<bool> {
        auto parsed = parse_bool(key, ascii_trim(value));
        if (!parsed) {
            return parsed.get_error();
        }
        into = *parsed;
        return true;
    };
    if (ascii_iequals(key, "channelPrefix")) {
        options.channel_prefix = std::string(value);
    } else if (ascii_iequals(key, "sslCaFile")) {
        options.tls_ca_file = std::string(ascii_trim(value));
    } else if (ascii_iequals(key, "sslHost")) {
        options.tls_host = std::string(ascii_trim(value));
    } else if (ascii_iequals(key, "sslCertFile")) {
        options.tls_cert_file = std::string(ascii_trim(value));
    } else if (ascii_iequals(key, "sslKeyFile")) {
        options.tls_key_file = std::string(ascii_trim(value));
    } else if (ascii_iequals(key, "sslInsecureSkipVerify")) {
        return flag(options.tls_insecure_skip_verify);
    } else if (ascii_iequals(key, "shardedPubSub")) {
        return flag(options.sharded);
    } else {
        return false;
    }
    return true;
}

// The keys only the StackExchange.Redis form has (the URL carries them elsewhere).
expected<bool> apply_stackexchange_option(std::string_view key, std::string_view value,
                                          std::string_view token, connection_options& options) {
    if (ascii_iequals(key, "password")) {
        options.password = std::string(value);
    } else if (ascii_iequals(key, "user")) {
        options.user = std::string(value);
    } else if (ascii_iequals(key, "ssl")) {
        auto flag = parse_bool(key, ascii_trim(value));
        if (!flag) {
            return flag.get_error();
        }
        options.tls = *flag;
    } else if (ascii_iequals(key, "abortConnect")) {
        // Validated for typos, otherwise moot: the client never gives up, it reconnects with
        // backoff and /readyz reports the outage.
        if (auto flag = parse_bool(key, ascii_trim(value)); !flag) {
            return flag.get_error();
        }
    } else if (ascii_iequals(key, "defaultDatabase")) {
        auto database = parse_database(ascii_trim(value), token);
        if (!database) {
            return database.get_error();
        }
        options.database = *database;
    } else {
        return false;
    }
    return true;
}

// Checks made once every key is known (keys come in any order).
expected<connection_options> finish(connection_options options) {
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
        return make_error(
            "Redis options sslCertFile and sslKeyFile go together: a client certificate needs "
            "its key");
    }
    const bool tls_keys = !options.tls_ca_file.empty() || !options.tls_host.empty() ||
                          !options.tls_cert_file.empty() || options.tls_insecure_skip_verify;
    if (tls_keys && !options.tls) {
        options.notes.push_back(
            "Redis ssl* options were ignored: TLS is off (ssl=True or rediss:// turns it on)");
    }
    if (!options.sharded) {
        for (const auto& extra : options.more_endpoints) {
            // StackExchange.Redis would spread over them; one Redis node is what the pub/sub
            // backplane needs unless it runs sharded over a cluster.
            options.notes.push_back("Redis endpoint '" + extra.host + ":" +
                                    std::to_string(extra.port) +
                                    "' ignored: only the first endpoint is used (more "
                                    "endpoints are cluster seeds with shardedPubSub=true)");
        }
    }
    return options;
}

expected<connection_options> parse_options_form(std::string_view text) {
    connection_options options;
    bool have_endpoint = false;
    while (true) {
        const auto comma = text.find(',');
        const auto token = ascii_trim(text.substr(0, comma));
        if (!token.empty()) {
            const auto equals = token.find('=');
            if (equals == std::string_view::npos) {
                if (have_endpoint) {
                    connection_options extra;
                    if (auto parsed = parse_endpoint(token, extra); !parsed) {
                        return parsed.get_error();
                    }
                    options.more_endpoints.push_back({extra.host, extra.port});
                } else {
                    if (auto parsed = parse_endpoint(token, options); !parsed) {
                        return parsed.get_error();
                    }
                    have_endpoint = true;
                }
            } else {
                const auto key = ascii_trim(token.substr(0, equals));
                // The token is trimmed as a whole, as StackExchange.Redis does; spaces inside
                // a value (a password) are kept.
                const auto value = token.substr(equals + 1);
                if (key.empty()) {
                    return make_error("invalid Redis option '" + std::string(token) +
                                      "': empty key");
                }
                auto common = apply_common_option(key, value, options);
                if (!common) {
                    return common.get_error();
                }
                if (!*common) {
                    auto own = apply_stackexchange_option(key, value, token, options);
                    if (!own) {
                        return own.get_error();
                    }
                    if (!*own) {
                        options.notes.push_back("Redis option '" + std::string(key) +
                                                "' is not supported and was ignored");
                    }
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
    return finish(std::move(options));
}

expected<connection_options> parse_url_form(std::string_view text) {
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) {
        return make_error("invalid Redis URL '" + std::string(text) +
                          "': " + parsed.error().message());
    }
    const auto& url = *parsed;
    connection_options options;
    options.tls = ascii_iequals(url.scheme(), "rediss");
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
    for (const auto& param : url.params()) {
        auto common = apply_common_option(param.key, param.value, options);
        if (!common) {
            return common.get_error();
        }
        if (!*common) {
            options.notes.push_back("Redis URL parameter '" + param.key +
                                    "' is not supported and was ignored");
        }
    }
    if (url.has_fragment()) {
        options.notes.push_back("the fragment of the Redis URL was ignored");
    }
    return finish(std::move(options));
}

}  // namespace

expected<connection_options> parse_connection_string(std::string_view text) {
    text = ascii_trim(text);
    if (text.empty()) {
        return make_error("Redis connection string is empty");
    }
    if (ascii_istarts_with(text, "redis://") || ascii_istarts_with(text, "rediss://")) {
        return parse_url_form(text);
    }
    if (text.find("://") != std::string_view::npos) {
        return make_error("unsupported Redis URL scheme in '" + std::string(text) +
                          "': expected redis:// or rediss://");
    }
    return parse_options_form(text);
}

std::string redact_connection_string(std::string_view text) {
    std::string out(text);
    if (out.starts_with("redis://") || out.starts_with("rediss://")) {
        // scheme://user:password@host: the password runs from the first ':' after the scheme
        // to the last '@' of the authority.
        const auto authority = out.find("://") + 3;
        const auto end = out.find_first_of("/?", authority);
        const auto at = out.rfind('@', end == std::string::npos ? out.size() : end);
        if (at != std::string::npos && at > authority) {
            const auto colon = out.find(':', authority);
            if (colon != std::string::npos && colon < at) {
                out.replace(colon + 1, at - colon - 1, "***");
            }
        }
        return out;
    }
    // StackExchange form: comma-separated; keys are case-insensitive.
    std::string result;
    std::size_t start = 0;
    while (start <= out.size()) {
        const auto comma = out.find(',', start);
        std::string item =
            out.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::string key = item.substr(0, item.find('='));
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (key == "password" && item.find('=') != std::string::npos) {
            item = item.substr(0, item.find('=') + 1) + "***";
        }
        result += item;
        if (comma == std::string::npos) {
            break;
        }
        result += ',';
        start = comma + 1;
    }
    return result;
}

}  // namespace switchboard::routing::redis
