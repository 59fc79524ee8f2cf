#include "routing/nats/connection_string.hpp"

#include "core/ascii.hpp"

#include <boost/url/parse.hpp>

#include <cctype>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace switchboard::routing::nats {

namespace {

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument(message);
}

// Tokens of [A-Za-z0-9_-] separated by single dots: what token_channel_codec's outputs may be
// appended to without producing an invalid or wildcard subject.
bool valid_prefix(std::string_view prefix) {
    bool token_empty = true;
    for (const char c : prefix) {
        if (c == '.') {
            if (token_empty) {
                return false;
            }
            token_empty = true;
        } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-') {
            token_empty = false;
        } else {
            return false;
        }
    }
    return true;
}

bool parse_bool(std::string_view key, std::string_view value) {
    if (ascii_iequals(value, "true")) {
        return true;
    }
    if (ascii_iequals(value, "false")) {
        return false;
    }
    fail("invalid value '" + std::string(value) + "' for NATS parameter '" + std::string(key) +
         "': expected true or false");
}

void set_credentials(connection_options& options, std::string user, std::string password,
                     std::string token, std::string_view redacted) {
    const bool have = !options.user.empty() || !options.password.empty() || !options.token.empty();
    if (have && (options.user != user || options.password != password || options.token != token)) {
        fail("NATS URL '" + std::string(redacted) +
             "' carries credentials that differ from an earlier URL's: give them once");
    }
    options.user = std::move(user);
    options.password = std::move(password);
    options.token = std::move(token);
}

void apply_parameter(connection_options& options, std::string_view key, std::string value) {
    if (key == "creds") {
        options.creds_file = std::move(value);
    } else if (key == "tls_ca") {
        options.tls_ca_file = std::move(value);
    } else if (key == "tls_cert") {
        options.tls_cert_file = std::move(value);
    } else if (key == "tls_key") {
        options.tls_key_file = std::move(value);
    } else if (key == "tls_hostname") {
        options.tls_hostname = std::move(value);
    } else if (key == "tls_insecure") {
        options.tls_insecure_skip_verify = parse_bool(key, value);
    } else if (key == "prefix") {
        if (!value.empty() && value.back() != '.') {
            value += '.';
        }
        if (!valid_prefix(value)) {
            fail("invalid value '" + value +
                 "' for NATS parameter 'prefix': expected dot-separated tokens of "
                 "[A-Za-z0-9_-]");
        }
        options.subject_prefix = std::move(value);
    } else if (key == "name") {
        options.name = std::move(value);
    } else if (key == "presence_replicas") {
        // JetStream's own bounds: a stream has 1 to 5 replicas.
        if (value.size() != 1 || value[0] < '1' || value[0] > '5') {
            fail("invalid value '" + value +
                 "' for NATS parameter 'presence_replicas': expected 1 to 5");
        }
        options.presence_replicas = value[0] - '0';
    } else {
        fail("unknown NATS parameter '" + std::string(key) +
             "': expected creds, tls_ca, tls_cert, tls_key, tls_hostname, tls_insecure, prefix, "
             "name or presence_replicas");
    }
}

// One element of the list; `last` may carry the query.
void parse_url(std::string_view text, bool last, connection_options& options, bool& tls_seen,
               bool& plain_seen) {
    const auto redacted = redact_connection_string(text);
    const auto parsed = boost::urls::parse_uri(text);
    if (!parsed) {
        fail("invalid NATS URL '" + redacted + "': " + parsed.error().message());
    }
    const auto& url = *parsed;
    if (ascii_iequals(url.scheme(), "tls")) {
        tls_seen = true;
    } else if (ascii_iequals(url.scheme(), "nats")) {
        plain_seen = true;
    } else {
        fail("unsupported scheme in NATS URL '" + redacted + "': expected nats:// or tls://");
    }
    if (!url.has_authority() || url.encoded_host().empty()) {
        fail("invalid NATS URL '" + redacted + "': missing host");
    }
    std::uint16_t port = 4222;  // the NATS client port
    if (url.has_port()) {
        const auto text_port = url.port();
        unsigned value = 0;
        const auto* end = text_port.data() + text_port.size();
        const auto [ptr, ec] = std::from_chars(text_port.data(), end, value);
        if (ec != std::errc{} || ptr != end || value == 0 ||
            value > std::numeric_limits<std::uint16_t>::max()) {
            fail("invalid port '" + std::string(text_port) + "' in NATS URL '" + redacted +
                 "': expected 1-65535");
        }
        port = static_cast<std::uint16_t>(value);
    }
    const std::string_view path = url.encoded_path();
    if (!path.empty() && path != "/") {
        fail("NATS URL '" + redacted + "' has a path; expected scheme://host:port");
    }
    if (url.has_fragment()) {
        fail("NATS URL '" + redacted + "' has a fragment; expected scheme://host:port");
    }
    if (url.has_userinfo()) {
        if (url.has_password()) {
            set_credentials(options, url.user(), url.password(), {}, redacted);
        } else {
            // nats://secret@host: a lone userinfo is a token, as every NATS client reads it.
            set_credentials(options, {}, {}, url.user(), redacted);
        }
    }
    std::string host = url.host_address();
    if (url.host_type() == boost::urls::host_type::ipv6) {
        host = "[" + host + "]";
    }
    options.servers.push_back(std::string(ascii_iequals(url.scheme(), "tls") ? "tls" : "nats") +
                              "://" + host + ":" + std::to_string(port));
    if (url.has_query()) {
        if (!last) {
            fail("NATS URL '" + redacted +
                 "' has parameters in the middle of the list: put them after the last URL");
        }
        for (const auto& param : url.params()) {
            apply_parameter(options, param.key, param.value);
        }
    }
}

}  // namespace

connection_options parse_connection_string(std::string_view text) {
    text = ascii_trim(text);
    if (text.empty()) {
        fail("NATS backplane spec is empty: expected nats://host:4222");
    }
    connection_options options;
    bool tls_seen = false;
    bool plain_seen = false;
    while (true) {
        const auto comma = text.find(',');
        const auto item = ascii_trim(text.substr(0, comma));
        if (item.empty()) {
            fail("empty URL in the NATS server list '" + redact_connection_string(text) + "'");
        }
        parse_url(item, comma == std::string_view::npos, options, tls_seen, plain_seen);
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    if (tls_seen && plain_seen) {
        fail("NATS server list mixes nats:// and tls://: TLS is one setting for every server");
    }
    options.tls = tls_seen;
    if (!options.tls) {
        for (const auto& [key, value] : {std::pair{"tls_ca", &options.tls_ca_file},
                                         {"tls_cert", &options.tls_cert_file},
                                         {"tls_key", &options.tls_key_file},
                                         {"tls_hostname", &options.tls_hostname}}) {
            if (!value->empty()) {
                fail(std::string("NATS parameter '") + key + "' needs tls:// URLs");
            }
        }
        if (options.tls_insecure_skip_verify) {
            fail("NATS parameter 'tls_insecure' needs tls:// URLs");
        }
    }
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
        fail(std::string("NATS parameter '") +
             (options.tls_cert_file.empty() ? "tls_cert" : "tls_key") +
             "' is missing: tls_cert and tls_key go together");
    }
    if (!options.creds_file.empty() &&
        (!options.user.empty() || !options.password.empty() || !options.token.empty())) {
        fail("NATS parameter 'creds' excludes a user, password or token in the URL");
    }
    return options;
}

std::string redact_connection_string(std::string_view text) {
    // Each URL of the list: scheme://userinfo@host; the secret is the password (after the
    // userinfo's first ':') or, without one, the whole userinfo (a token).
    std::string out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        std::string item(text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        const auto scheme_end = item.find("://");
        if (scheme_end != std::string::npos) {
            const auto authority = scheme_end + 3;
            const auto end = item.find_first_of("/?#", authority);
            const auto at = item.rfind('@', end == std::string::npos ? item.size() : end);
            if (at != std::string::npos && at >= authority) {
                const auto colon = item.find(':', authority);
                if (colon != std::string::npos && colon < at) {
                    item.replace(colon + 1, at - colon - 1, "***");
                } else {
                    item.replace(authority, at - authority, "***");
                }
            }
        }
        out += item;
        if (comma == std::string_view::npos) {
            break;
        }
        out += ',';
        start = comma + 1;
    }
    return out;
}

}  // namespace switchboard::routing::nats
