#include "server/config_file.hpp"

#include "server/backends.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

namespace switchboard::config {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// How an ASP.NET key's value becomes the flag's.
enum class conversion : std::uint8_t { none, timespan, boolean, log_level };

// An ASP.NET configuration path (lower case, ':'-separated) and what it sets.
struct aspnet_key {
    std::string_view path;
    // Empty: known and deliberately ignored (it configures something Switchboard does not have).
    std::string_view flag;
    conversion convert = conversion::none;
};

// The keys the systems we replace put in appsettings.json and App Service settings
// (Microsoft.AspNetCore.SignalR.StackExchangeRedis, HubOptions, Logging).
constexpr std::array aspnet_keys{
    aspnet_key{"connectionstrings:redisconnection", "backplane"},
    aspnet_key{"connectionstrings:redis", "backplane"},
    aspnet_key{"redis:connectionstring", "backplane"},
    aspnet_key{"redis:configuration", "backplane"},
    // IDistributedCache's key prefix and StackExchange's abort flag: Switchboard keeps no cache
    // keys there and always retries the connection.
    aspnet_key{"redis:instancename", ""},
    aspnet_key{"redis:abortonconnectfail", ""},
    // Read separately: false turns the Redis keys of its source off.
    aspnet_key{"signalr:useredisbackplane", ""},
    aspnet_key{"signalr:maximummessagesize", "max-message-size"},
    aspnet_key{"signalr:maximumreceivemessagesize", "max-message-size"},
    aspnet_key{"signalr:keepaliveinterval", "keep-alive-interval", conversion::timespan},
    aspnet_key{"signalr:clienttimeoutinterval", "client-timeout", conversion::timespan},
    aspnet_key{"signalr:handshaketimeout", "handshake-timeout", conversion::timespan},
    aspnet_key{"signalr:enabledetailederrors", "detailed-errors", conversion::boolean},
    aspnet_key{"signalr:statefulreconnectbuffersize", "stateful-reconnect-buffer-size"},
    aspnet_key{"logging:loglevel:default", "log-level", conversion::log_level},
};

// The top-level sections read as ASP.NET's (lower case).
constexpr std::array<std::string_view, 4> aspnet_sections{"connectionstrings", "redis", "signalr",
                                                          "logging"};

bool is_aspnet_section(std::string_view name) {
    const auto key = lower(name);
    return std::find(aspnet_sections.begin(), aspnet_sections.end(), key) != aspnet_sections.end();
}

std::optional<std::string> convert_value(conversion kind, std::string_view text) {
    switch (kind) {
    case conversion::none:
        return std::string(text);
    case conversion::timespan:
        return timespan_to_duration(text);
    case conversion::boolean:
        return lower(text);
    case conversion::log_level: {
        // Microsoft.Extensions.Logging's LogLevel names, as spdlog's.
        static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> levels{{
            {"trace", "trace"},
            {"debug", "debug"},
            {"information", "info"},
            {"warning", "warn"},
            {"error", "error"},
            {"critical", "critical"},
            {"none", "off"},
        }};
        const auto key = lower(text);
        for (const auto& [name, level] : levels) {
            if (key == name) {
                return std::string(level);
            }
        }
        return std::nullopt;
    }
    }
    return std::nullopt;
}

// Collects the ASP.NET keys of one source (a file or the environment) into `out`.
class aspnet_reader {
public:
    aspnet_reader(layer& out, std::string origin_prefix)
        : out_(out), origin_prefix_(std::move(origin_prefix)) {}

    // `path` ("Section:Key"), `value` as text; `shown` names the key in messages as the source
    // spells it (a variable's Section__Key), empty: `path`.
    expected<void> add(const std::string& path, const std::string& value,
                       const std::string& shown = {}) {
        const auto& name = shown.empty() ? path : shown;
        const auto key = lower(path);
        std::vector<std::string> paths;
        for (const auto& known : aspnet_keys) {
            paths.emplace_back(known.path);
            if (known.path != key) {
                continue;
            }
            if (key == "signalr:useredisbackplane") {
                use_redis_ = lower(value) != "false";
                return {};
            }
            if (known.flag.empty()) {
                out_.warnings.push_back(origin_prefix_ + name + ": ignored (" +
                                        std::string(ignored_reason(key)) + ")");
                return {};
            }
            auto converted = convert_value(known.convert, value);
            if (!converted) {
                return make_error(origin_prefix_ + name + ": '" + value +
                                  "' is not a log level (Trace, Debug, Information, Warning, "
                                  "Error, Critical, None)");
            }
            add_setting(std::string(known.flag), std::move(*converted), name);
            return {};
        }
        // Other connection strings belong to the application (its database, its queue).
        if (key.starts_with("connectionstrings:")) {
            return {};
        }
        // Logging holds per-category levels and providers Switchboard has no counterpart for.
        if (key.starts_with("logging:")) {
            return {};
        }
        auto suggestion = nearest(key, paths);
        out_.warnings.push_back(origin_prefix_ + name + ": unknown key ignored" +
                                (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
        return {};
    }

    // Applies SignalR:UseRedisBackplane=false: the Redis keys of this source set nothing.
    void finish() {
        if (use_redis_) {
            return;
        }
        std::erase_if(out_.aspnet, [](const setting& s) { return s.flag == "backplane"; });
        out_.warnings.push_back(origin_prefix_ +
                                "SignalR:UseRedisBackplane is false: Redis keys ignored");
    }

private:
    static std::string_view ignored_reason(std::string_view key) {
        if (key == "redis:instancename") {
            return "a distributed cache's key prefix; Switchboard keeps no cache in Redis";
        }
        return "Switchboard always reconnects to an unreachable Redis";
    }

    void add_setting(std::string flag, std::string value, const std::string& path) {
        for (auto& existing : out_.aspnet) {
            if (existing.flag == flag) {
                out_.warnings.push_back(origin_prefix_ + path + " and " + existing.origin +
                                        " both set " + flag + ": using " + existing.origin);
                return;
            }
        }
        out_.aspnet.push_back(setting{std::move(flag), {std::move(value)}, origin_prefix_ + path});
    }

    layer& out_;
    std::string origin_prefix_;
    bool use_redis_ = true;
};

// A JSON scalar as a flag's text; nullopt for objects, arrays and null.
std::optional<std::string> scalar_text(const boost::json::value& value) {
    if (value.is_string()) {
        return std::string(value.get_string());
    }
    if (value.is_bool()) {
        return value.get_bool() ? "true" : "false";
    }
    if (value.is_number()) {
        return boost::json::serialize(value);
    }
    return std::nullopt;
}

// Flattens an ASP.NET section into "Section:Key" paths and text values.
expected<void> read_section(aspnet_reader& reader, const std::string& path,
                            const boost::json::value& value, std::string_view file_name) {
    if (value.is_object()) {
        for (const auto& [key, child] : value.get_object()) {
            auto done = read_section(reader, path + ":" + std::string(key), child, file_name);
            if (!done) {
                return done;
            }
        }
        return {};
    }
    auto text = scalar_text(value);
    if (!text) {
        return make_error(std::string(file_name) + ": " + path +
                          ": expects a string, number or boolean");
    }
    return reader.add(path, *text);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string nearest(std::string_view name, const std::vector<std::string>& known) {
    const auto key = lower(name);
    std::string best;
    std::size_t best_distance = 0;
    for (const auto& candidate : known) {
        const auto distance = edit_distance(key, lower(candidate));
        if (best.empty() || distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    // A third of the name may be wrong (typos, snake_case for kebab-case), at least two edits.
    const std::size_t allowed = std::max<std::size_t>(2, key.size() / 3);
    return best_distance <= allowed ? best : std::string();
}

expected<layer> read_file(std::string_view text, std::string_view file_name,
                          const std::vector<std::string>& flags) {
    boost::json::parse_options options;
    options.allow_comments = true;
    options.allow_trailing_commas = true;
    boost::system::error_code ec;
    const auto root = boost::json::parse(text, ec, {}, options);
    if (ec) {
        return make_error(std::string(file_name) + ": not valid JSON: " + ec.message());
    }
    if (!root.is_object()) {
        return make_error(std::string(file_name) + ": expects a JSON object of settings");
    }
    layer out;
    aspnet_reader aspnet(out, std::string(file_name) + ": ");
    std::vector<std::string> known = flags;
    known.insert(known.end(), {"ConnectionStrings", "Redis", "SignalR", "Logging"});
    for (const auto& [key_view, value] : root.get_object()) {
        const std::string key(key_view);
        const std::string origin = std::string(file_name) + ": " + key;
        if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
            setting s{key, {}, origin};
            if (value.is_array()) {
                for (const auto& item : value.get_array()) {
                    auto item_text = scalar_text(item);
                    if (!item_text) {
                        return make_error(origin +
                                          ": array items must be strings, numbers or "
                                          "booleans");
                    }
                    s.values.push_back(std::move(*item_text));
                }
            } else if (auto scalar = scalar_text(value)) {
                s.values.push_back(std::move(*scalar));
            } else {
                return make_error(origin + ": expects a string, number, boolean or array");
            }
            out.native.push_back(std::move(s));
        } else if (is_aspnet_section(key)) {
            auto done = read_section(aspnet, key, value, file_name);
            if (!done) {
                return done.get_error();
            }
        } else if (key == "$schema" || key == "AllowedHosts" || key == "Kestrel") {
            // appsettings.json boilerplate for the web host, not for the hub server.
        } else {
            auto suggestion = nearest(key, known);
            out.warnings.push_back(
                origin + ": unknown key ignored" +
                (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
        }
    }
    aspnet.finish();
    return out;
}

expected<layer> read_aspnet_environment(
    const std::vector<std::pair<std::string, std::string>>& environment) {
    layer out;
    aspnet_reader aspnet(out, "environment ");
    for (const auto& [name, value] : environment) {
        const auto separator = name.find("__");
        if (separator == std::string::npos || !is_aspnet_section(name.substr(0, separator))) {
            continue;
        }
        // Section__Key__Sub is Section:Key:Sub, as .NET's environment provider reads it.
        std::string path;
        for (std::size_t at = 0; at < name.size(); ++at) {
            if (name.compare(at, 2, "__") == 0) {
                path += ':';
                ++at;
            } else {
                path += name[at];
            }
        }
        auto done = aspnet.add(path, value, name);
        if (!done) {
            return done.get_error();
        }
    }
    aspnet.finish();
    return out;
}

std::string timespan_to_duration(std::string_view text) {
    // [d.]hh:mm:ss[.fraction]
    const auto first_colon = text.find(':');
    if (first_colon == std::string_view::npos) {
        return std::string(text);
    }
    auto number = [](std::string_view part, std::int64_t& out) {
        const auto* end = part.data() + part.size();
        auto [ptr, ec] = std::from_chars(part.data(), end, out);
        return ec == std::errc() && ptr == end && !part.empty() && out >= 0;
    };
    std::int64_t days = 0;
    std::string_view head = text.substr(0, first_colon);
    if (const auto dot = head.find('.'); dot != std::string_view::npos) {
        if (!number(head.substr(0, dot), days)) {
            return std::string(text);
        }
        head = head.substr(dot + 1);
    }
    const auto rest = text.substr(first_colon + 1);
    const auto second_colon = rest.find(':');
    if (second_colon == std::string_view::npos) {
        return std::string(text);
    }
    std::string_view seconds_part = rest.substr(second_colon + 1);
    std::int64_t fraction_ms = 0;
    if (const auto dot = seconds_part.find('.'); dot != std::string_view::npos) {
        auto digits = std::string(seconds_part.substr(dot + 1));
        digits.resize(3, '0');  // milliseconds: the finest a duration flag takes
        if (!number(digits, fraction_ms)) {
            return std::string(text);
        }
        seconds_part = seconds_part.substr(0, dot);
    }
    std::int64_t hours = 0;
    std::int64_t minutes = 0;
    std::int64_t seconds = 0;
    if (!number(head, hours) || !number(rest.substr(0, second_colon), minutes) ||
        !number(seconds_part, seconds) || minutes > 59 || seconds > 59) {
        return std::string(text);
    }
    const auto total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000 + fraction_ms;
    return std::to_string(total) + "ms";
}

bool is_secret(std::string_view flag) {
    return flag == "jwt-secret" || flag == "access-key" || flag == "events-publish-key";
}

std::string redact(std::string_view flag, std::string_view value) {
    if (is_secret(flag)) {
        return value.empty() ? std::string() : "<redacted>";
    }
    if (flag == "backplane") {
        return backplanes().redact(value);
    }
    if (flag == "connection-string") {
        // Endpoint=...;AccessKey=SECRET;Version=1.0;
        std::string out;
        std::size_t start = 0;
        while (start < value.size()) {
            auto end = value.find(';', start);
            if (end == std::string_view::npos) {
                end = value.size();
            }
            auto part = value.substr(start, end - start);
            const auto equals = part.find('=');
            if (equals != std::string_view::npos && lower(part.substr(0, equals)) == "accesskey") {
                out += std::string(part.substr(0, equals)) + "=<redacted>";
            } else {
                out += part;
            }
            if (end < value.size()) {
                out += ';';
            }
            start = end + 1;
        }
        return out;
    }
    return std::string(value);
}

}  // namespace switchboard::config
