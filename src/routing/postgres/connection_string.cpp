#include "routing/postgres/connection_string.hpp"

#include "core/ascii.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <memory>
#include <optional>
#include <utility>

namespace switchboard::routing::postgres {

namespace {

struct item {
    std::string key;
    std::string value;
    // Where the value sits in the text (quotes included), for redaction.
    std::size_t value_begin = 0;
    std::size_t value_end = 0;
};

bool is_url(std::string_view text) {
    return ascii_istarts_with(text, "postgres://") || ascii_istarts_with(text, "postgresql://");
}

// Npgsql matches keys case-insensitively and, through its synonyms, with or without spaces
// ("User Id", "UserId"): lowercase without spaces is the one spelling compared here.
std::string normalize_key(std::string_view key) {
    std::string out;
    for (const char c : key) {
        if (c != ' ') {
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        }
    }
    return out;
}

// Npgsql's keys (normalized) and the libpq keyword each maps to; "" marks keys handled
// specially below.
constexpr std::array<std::pair<std::string_view, std::string_view>, 26> npgsql_keys{{
    {"host", ""},
    {"server", ""},
    {"port", ""},
    {"database", "dbname"},
    {"db", "dbname"},
    {"username", "user"},
    {"userid", "user"},
    {"uid", "user"},
    {"password", "password"},
    {"pwd", "password"},
    {"psw", "password"},
    {"sslmode", ""},
    {"timeout", ""},
    {"applicationname", "application_name"},
    {"keepalive", ""},
    {"tcpkeepalive", ""},
    {"tcpkeepalivetime", "keepalives_idle"},
    {"tcpkeepaliveinterval", "keepalives_interval"},
    {"sslcertificate", "sslcert"},
    {"sslkey", "sslkey"},
    {"sslpassword", "sslpassword"},
    {"rootcertificate", "sslrootcert"},
    {"targetsessionattributes", ""},
    {"options", "options"},
    {"passfile", "passfile"},
    {"kerberosservicename", "krbsrvname"},
}};

// Npgsql keys about its own pool, command handling or type mapping: meaningless for a
// LISTEN/NOTIFY session, so noted and ignored rather than refused.
constexpr std::array<std::string_view, 37> npgsql_ignored_keys{
    "pooling",
    "minpoolsize",
    "minimumpoolsize",
    "maxpoolsize",
    "maximumpoolsize",
    "connectionidlelifetime",
    "connectionpruninginterval",
    "connectionlifetime",
    "commandtimeout",
    "internalcommandtimeout",
    "cancellationtimeout",
    "maxautoprepare",
    "autoprepareminusages",
    "includeerrordetail",
    "includeerrordetails",
    "logparameters",
    "enlist",
    "noresetonclose",
    "multiplexing",
    "writecoalescingbufferthresholdbytes",
    "readbuffersize",
    "writebuffersize",
    "socketreceivebuffersize",
    "socketsendbuffersize",
    "trustservercertificate",
    "servercompatibilitymode",
    "timezone",
    "encoding",
    "clientencoding",
    "checkcertificaterevocation",
    "persistsecurityinfo",
    "loadbalancehosts",
    "hostrecheckseconds",
    "arraynullabilitymode",
    "includerealm",
    "searchpath",
    "loadtabletypes",
};

bool is_npgsql_key(std::string_view normalized) {
    return std::any_of(npgsql_keys.begin(), npgsql_keys.end(),
                       [&](const auto& k) { return k.first == normalized; }) ||
           std::find(npgsql_ignored_keys.begin(), npgsql_ignored_keys.end(), normalized) !=
               npgsql_ignored_keys.end();
}

bool is_password_key(std::string_view key) {
    const auto k = normalize_key(key);
    return k == "password" || k == "pwd" || k == "psw" || k == "sslpassword";
}

bool is_libpq_keyword(std::string_view key) {
    static const auto keywords = [] {
        std::vector<std::string> names;
        if (PQconninfoOption* defaults = PQconndefaults()) {
            for (auto* option = defaults; option->keyword != nullptr; ++option) {
                names.emplace_back(option->keyword);
            }
            PQconninfoFree(defaults);
        }
        return names;
    }();
    return std::find(keywords.begin(), keywords.end(), key) != keywords.end();
}

// Npgsql (DbConnectionStringBuilder) items: "key=value" separated by ';', values optionally in
// '...' or "..." with the quote doubled inside.
expected<std::vector<item>> split_npgsql(std::string_view text) {
    std::vector<item> items;
    std::size_t i = 0;
    std::size_t index = 0;
    while (i < text.size()) {
        while (i < text.size() &&
               (text[i] == ';' || std::isspace(static_cast<unsigned char>(text[i])))) {
            ++i;
        }
        if (i == text.size()) {
            break;
        }
        ++index;
        const auto equals = text.find('=', i);
        const auto semicolon = text.find(';', i);
        if (equals == std::string_view::npos || equals > semicolon) {
            // The item itself is not shown: it may be a misplaced password.
            return make_error("invalid PostgreSQL connection string: item " +
                              std::to_string(index) + " has no '=' (expected Key=Value;...)");
        }
        item entry;
        entry.key = std::string(ascii_trim(text.substr(i, equals - i)));
        if (entry.key.empty()) {
            return make_error("invalid PostgreSQL connection string: item " +
                              std::to_string(index) + " has an empty key");
        }
        i = equals + 1;
        while (i < text.size() && text[i] != ';' &&
               std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
        entry.value_begin = i;
        if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
            const char quote = text[i++];
            bool closed = false;
            while (i < text.size()) {
                if (text[i] == quote) {
                    if (i + 1 < text.size() && text[i + 1] == quote) {
                        entry.value.push_back(quote);
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                entry.value.push_back(text[i++]);
            }
            entry.value_end = i;
            while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
                ++i;
            }
            if (!closed || (i < text.size() && text[i] != ';')) {
                return make_error("invalid value for PostgreSQL connection string key '" +
                                  entry.key + "': unterminated quote or text after the quote");
            }
        } else {
            const auto end = std::min(text.find(';', i), text.size());
            entry.value = std::string(ascii_trim(text.substr(i, end - i)));
            entry.value_end = end;
            i = end;
        }
        items.push_back(std::move(entry));
    }
    return items;
}

// libpq conninfo items: "key = value" separated by whitespace, values optionally in '...'
// with backslash escapes. Lenient (redaction and shape detection only: libpq validates).
std::vector<item> split_conninfo(std::string_view text) {
    std::vector<item> items;
    std::size_t i = 0;
    const auto skip_space = [&] {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
    };
    while (true) {
        skip_space();
        if (i == text.size()) {
            break;
        }
        item entry;
        while (i < text.size() && text[i] != '=' &&
               !std::isspace(static_cast<unsigned char>(text[i]))) {
            entry.key.push_back(text[i++]);
        }
        skip_space();
        if (i == text.size() || text[i] != '=') {
            break;
        }
        ++i;
        skip_space();
        entry.value_begin = i;
        if (i < text.size() && text[i] == '\'') {
            ++i;
            while (i < text.size() && text[i] != '\'') {
                if (text[i] == '\\' && i + 1 < text.size()) {
                    ++i;
                }
                entry.value.push_back(text[i++]);
            }
            if (i < text.size()) {
                ++i;
            }
        } else {
            while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
                if (text[i] == '\\' && i + 1 < text.size()) {
                    ++i;
                }
                entry.value.push_back(text[i++]);
            }
        }
        entry.value_end = i;
        items.push_back(std::move(entry));
    }
    return items;
}

// The first key of a "key=value" text, as written.
std::string_view first_key(std::string_view text) {
    text = ascii_trim(text);
    const auto end = text.find_first_of("=;");
    if (end == std::string_view::npos || text[end] != '=') {
        return {};
    }
    return ascii_trim(text.substr(0, end));
}

template <class Int>
bool parse_int(std::string_view text, Int& out) {
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return !text.empty() && ec == std::errc{} && ptr == end;
}

bool valid_port(std::string_view text) {
    unsigned value = 0;
    return parse_int(text, value) && value >= 1 && value <= 65535;
}

error bad_value(std::string_view key, std::string_view value, std::string_view expected) {
    return make_error("invalid value '" + std::string(value) +
                      "' for PostgreSQL connection string key '" + std::string(key) +
                      "': expected " + std::string(expected));
}

using option_list = std::vector<std::pair<std::string, std::string>>;

// Checks what libpq would only reject at connect time, and renders the conninfo.
expected<connection_options> finish(const option_list& options, std::vector<std::string> notes) {
    connection_options out;
    out.notes = std::move(notes);
    bool has_application_name = false;
    for (const auto& [key, value] : options) {
        if (key == "port") {
            std::string_view rest = value;
            while (true) {
                const auto comma = rest.find(',');
                const auto one = rest.substr(0, comma);
                if (!one.empty() && !valid_port(one)) {
                    return bad_value(key, value, "a port 1-65535 (or a comma-separated list)");
                }
                if (comma == std::string_view::npos) {
                    break;
                }
                rest.remove_prefix(comma + 1);
            }
        } else if (key == "sslmode") {
            static constexpr std::array<std::string_view, 6> modes{
                "disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
            if (std::find(modes.begin(), modes.end(), value) == modes.end()) {
                return bad_value(key, value,
                                 "disable, allow, prefer, require, verify-ca or verify-full");
            }
        } else if (key == "connect_timeout") {
            int seconds = 0;
            if (!parse_int(value, seconds) || seconds < 0) {
                return bad_value(key, value, "a number of seconds >= 0");
            }
            // 0 is libpq's "forever": the default bound stays, so a black-holed address cannot
            // keep the bus down without a retry.
            if (seconds > 0) {
                out.connect_timeout = std::chrono::seconds(seconds);
            }
        } else if (key == "application_name" || key == "fallback_application_name") {
            has_application_name = true;
        }
        append_conninfo_option(out.conninfo, key, value);
    }
    if (!has_application_name) {
        // Shows the bus's sessions as such in pg_stat_activity.
        append_conninfo_option(out.conninfo, "fallback_application_name", "switchboard");
    }
    return out;
}

// URLs and conninfo: libpq's own parser, so every keyword and URI rule is libpq's.
expected<connection_options> parse_with_libpq(std::string_view text) {
    std::string input(ascii_trim(text));
    if (is_url(input)) {
        // libpq compares the scheme case-sensitively.
        const auto colon = input.find(':');
        std::transform(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(colon),
                       input.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    char* message = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> parsed(
        PQconninfoParse(input.c_str(), &message), &PQconninfoFree);
    if (!parsed) {
        std::string reason = message != nullptr ? message : "out of memory";
        PQfreemem(message);
        while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) {
            reason.pop_back();
        }
        return make_error("invalid PostgreSQL connection string: " + reason);
    }
    option_list options;
    for (auto* option = parsed.get(); option->keyword != nullptr; ++option) {
        if (option->val != nullptr) {
            options.emplace_back(option->keyword, option->val);
        }
    }
    return finish(options, {});
}

std::optional<std::string_view> npgsql_ssl_mode(std::string_view value) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> modes{{
        {"disable", "disable"},
        {"allow", "allow"},
        {"prefer", "prefer"},
        {"require", "require"},
        {"verifyca", "verify-ca"},
        {"verifyfull", "verify-full"},
    }};
    const auto normalized = normalize_key(value);
    for (const auto& [name, mode] : modes) {
        if (normalized == name || normalized == normalize_key(mode)) {
            return mode;
        }
    }
    return std::nullopt;
}

std::optional<bool> npgsql_bool(std::string_view value) {
    if (ascii_iequals(value, "true") || value == "1" || ascii_iequals(value, "yes")) {
        return true;
    }
    if (ascii_iequals(value, "false") || value == "0" || ascii_iequals(value, "no")) {
        return false;
    }
    return std::nullopt;
}

// "a", "a:5433", "[::1]:5433", comma-separated: libpq's host and port lists.
expected<void> split_hosts(std::string_view key, std::string_view value, std::string& hosts,
                           std::vector<std::string>& ports) {
    std::string_view rest = value;
    while (true) {
        const auto comma = rest.find(',');
        auto one = ascii_trim(rest.substr(0, comma));
        std::string_view port;
        if (!one.empty() && one.front() == '[') {
            const auto close = one.find(']');
            if (close == std::string_view::npos) {
                return bad_value(key, value, "an IPv6 address in brackets, e.g. [::1]:5432");
            }
            if (close + 1 < one.size()) {
                if (one[close + 1] != ':') {
                    return bad_value(key, value, "host[:port] items separated by commas");
                }
                port = one.substr(close + 2);
            }
            one = one.substr(1, close - 1);
        } else if (const auto colon = one.find(':');
                   colon != std::string_view::npos &&
                   one.find(':', colon + 1) == std::string_view::npos) {
            port = one.substr(colon + 1);
            one = one.substr(0, colon);
        }
        if (one.empty()) {
            return bad_value(key, value, "a host name or address");
        }
        if (!port.empty() && !valid_port(port)) {
            return bad_value(key, value, "host:port with a port 1-65535");
        }
        if (!hosts.empty()) {
            hosts.push_back(',');
        }
        hosts.append(one);
        ports.emplace_back(port);
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return {};
}

expected<connection_options> parse_npgsql(std::string_view text) {
    auto items = split_npgsql(text);
    if (!items) {
        return items.get_error();
    }
    // Later duplicates win, as in Npgsql; the order of the rest is kept.
    option_list options;
    std::vector<std::string> notes;
    std::string hosts;
    std::vector<std::string> host_ports;
    std::string default_port;
    const auto set = [&](std::string key, std::string value) {
        const auto it = std::find_if(options.begin(), options.end(),
                                     [&](const auto& o) { return o.first == key; });
        if (it != options.end()) {
            it->second = std::move(value);
        } else {
            options.emplace_back(std::move(key), std::move(value));
        }
    };
    for (const auto& entry : *items) {
        const auto key = normalize_key(entry.key);
        const auto& value = entry.value;
        if (key == "host" || key == "server") {
            hosts.clear();
            host_ports.clear();
            if (auto split = split_hosts(entry.key, value, hosts, host_ports); !split) {
                return split.get_error();
            }
        } else if (key == "port") {
            if (!valid_port(value)) {
                return bad_value(entry.key, value, "a port 1-65535");
            }
            default_port = value;
        } else if (key == "sslmode") {
            const auto mode = npgsql_ssl_mode(value);
            if (!mode) {
                return bad_value(entry.key, value,
                                 "Disable, Allow, Prefer, Require, VerifyCA or VerifyFull");
            }
            set("sslmode", std::string(*mode));
        } else if (key == "timeout") {
            int seconds = 0;
            if (!parse_int(value, seconds) || seconds < 0) {
                return bad_value(entry.key, value, "a number of seconds >= 0");
            }
            set("connect_timeout", value);
        } else if (key == "keepalive") {
            // Npgsql's application-level keepalive (seconds of idleness before a probe) has the
            // same purpose as TCP keepalives after that much idleness: finding a dead peer.
            int seconds = 0;
            if (!parse_int(value, seconds) || seconds < 0) {
                return bad_value(entry.key, value, "a number of seconds >= 0");
            }
            if (seconds > 0) {
                set("keepalives", "1");
                set("keepalives_idle", value);
            }
        } else if (key == "tcpkeepalive") {
            const auto on = npgsql_bool(value);
            if (!on) {
                return bad_value(entry.key, value, "true or false");
            }
            set("keepalives", *on ? "1" : "0");
        } else if (key == "tcpkeepalivetime" || key == "tcpkeepaliveinterval") {
            int seconds = 0;
            if (!parse_int(value, seconds) || seconds < 0) {
                return bad_value(entry.key, value, "a number of seconds >= 0");
            }
            set(key == "tcpkeepalivetime" ? "keepalives_idle" : "keepalives_interval", value);
        } else if (key == "targetsessionattributes") {
            static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> modes{{
                {"any", "any"},
                {"primary", "primary"},
                {"standby", "standby"},
                {"preferstandby", "prefer-standby"},
                {"readwrite", "read-write"},
                {"readonly", "read-only"},
                {"preferprimary", "any"},
            }};
            const auto normalized = normalize_key(value);
            const auto it = std::find_if(modes.begin(), modes.end(), [&](const auto& m) {
                return normalized == m.first || normalized == normalize_key(m.second);
            });
            if (it == modes.end()) {
                return bad_value(entry.key, value,
                                 "Any, Primary, Standby, PreferPrimary, PreferStandby, "
                                 "ReadWrite or ReadOnly");
            }
            if (normalized == "preferprimary") {
                notes.push_back("PostgreSQL connection string: '" + entry.key +
                                "=PreferPrimary' has no libpq equivalent; using Any");
            }
            set("target_session_attrs", std::string(it->second));
        } else if (const auto mapped = std::find_if(npgsql_keys.begin(), npgsql_keys.end(),
                                                    [&](const auto& k) { return k.first == key; });
                   mapped != npgsql_keys.end()) {
            set(std::string(mapped->second), value);
        } else if (std::find(npgsql_ignored_keys.begin(), npgsql_ignored_keys.end(), key) !=
                   npgsql_ignored_keys.end()) {
            notes.push_back("PostgreSQL connection string: key '" + entry.key +
                            "' does not apply to the backplane; ignored");
        } else {
            return make_error("unknown PostgreSQL (Npgsql) connection string key '" + entry.key +
                              "'");
        }
    }
    if (hosts.empty()) {
        return make_error("PostgreSQL connection string: key 'Host' is missing");
    }
    option_list ordered{{"host", hosts}};
    bool any_port = !default_port.empty();
    std::string ports;
    for (std::size_t i = 0; i < host_ports.size(); ++i) {
        if (i > 0) {
            ports.push_back(',');
        }
        // Npgsql's Port (default 5432) applies to hosts written without one.
        const auto& port = host_ports[i].empty() ? default_port : host_ports[i];
        any_port = any_port || !host_ports[i].empty();
        ports.append(port.empty() ? std::string("5432") : port);
    }
    if (any_port) {
        ordered.emplace_back("port", ports);
    }
    ordered.insert(ordered.end(), options.begin(), options.end());
    return finish(ordered, std::move(notes));
}

enum class shape { url, conninfo, npgsql, unknown };

shape shape_of(std::string_view text) {
    text = ascii_trim(text);
    if (is_url(text)) {
        return shape::url;
    }
    const auto key = first_key(text);
    if (key.empty()) {
        return shape::unknown;
    }
    if (text.find(';') == std::string_view::npos && is_libpq_keyword(key)) {
        // StackExchange.Redis options come with ',' and no space ("password=x,host:6379");
        // a conninfo with the keys Redis shares separates its pairs by spaces.
        static constexpr std::array<std::string_view, 3> shared_with_redis{"password", "user",
                                                                           "keepalives"};
        const bool shared = std::find(shared_with_redis.begin(), shared_with_redis.end(), key) !=
                            shared_with_redis.end();
        if (shared && text.find(',') != std::string_view::npos &&
            std::none_of(text.begin(), text.end(),
                         [](unsigned char c) { return std::isspace(c) != 0; })) {
            return shape::unknown;
        }
        return shape::conninfo;
    }
    const auto normalized = normalize_key(key);
    if (is_npgsql_key(normalized)) {
        if (text.find(';') == std::string_view::npos && text.find(',') != std::string_view::npos &&
            (normalized == "password" || normalized == "keepalive")) {
            return shape::unknown;  // "password=x,localhost:6379": StackExchange.Redis
        }
        return shape::npgsql;
    }
    return shape::unknown;
}

}  // namespace

void append_conninfo_option(std::string& out, std::string_view key, std::string_view value) {
    if (!out.empty()) {
        out.push_back(' ');
    }
    out.append(key);
    out.append("='");
    for (const char c : value) {
        if (c == '\\' || c == '\'') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    out.push_back('\'');
}

expected<connection_options> parse_connection_string(std::string_view text) {
    switch (shape_of(text)) {
    case shape::url:
    case shape::conninfo:
        return parse_with_libpq(text);
    case shape::npgsql:
        return parse_npgsql(text);
    case shape::unknown:
        break;
    }
    return make_error(
        "not a PostgreSQL connection string: expected postgres://..., a libpq conninfo "
        "(host=... dbname=...) or Host=...;Database=...;Username=...");
}

bool looks_like_connection_string(std::string_view text) {
    return shape_of(text) != shape::unknown;
}

std::string redact_connection_string(std::string_view text) {
    const auto kind = shape_of(text);
    if (kind == shape::url) {
        std::string out(text);
        const auto authority = out.find("://") + 3;
        const auto authority_end = std::min(out.find_first_of("/?", authority), out.size());
        const auto at = out.rfind('@', authority_end);
        if (at != std::string::npos && at > authority) {
            const auto colon = out.find(':', authority);
            if (colon < at) {
                out.replace(colon + 1, at - colon - 1, "***");
            }
        }
        // ?password=... and &sslpassword=... in the query.
        for (const std::string_view key : {"password=", "sslpassword="}) {
            auto at_key = out.find('?');
            while (at_key != std::string::npos) {
                const auto start = at_key + 1;
                if (out.compare(start, key.size(), key) == 0) {
                    const auto value = start + key.size();
                    const auto end = std::min(out.find('&', value), out.size());
                    out.replace(value, end - value, "***");
                }
                at_key = out.find('&', start);
            }
        }
        return out;
    }
    std::vector<item> items;
    if (kind == shape::npgsql) {
        auto split = split_npgsql(text);
        if (!split) {
            // Unparseable: where a password would be is unknown.
            return "*** (unparseable PostgreSQL connection string)";
        }
        items = std::move(*split);
    } else if (kind == shape::conninfo) {
        items = split_conninfo(text);
    } else {
        return std::string(text);
    }
    std::string out(text);
    // Back to front, so earlier offsets stay valid.
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        if (is_password_key(it->key)) {
            out.replace(it->value_begin, it->value_end - it->value_begin, "***");
        }
    }
    return out;
}

}  // namespace switchboard::routing::postgres
