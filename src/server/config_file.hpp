// Settings below the command line: a JSON file whose keys mirror serve's flags, and the ASP.NET
// Core shapes (appsettings.json sections, `Section__Key` variables) teams already have.
#pragma once

#include "core/expected.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::config {

// One setting as a flag would take it: the flag's name without "--", its values (several for a
// repeatable flag), and where it came from, for messages ("app.json: listen").
struct setting {
    std::string flag;
    std::vector<std::string> values;
    std::string origin;
};

// What one source says. Native keys and ASP.NET keys are kept apart because a native key of the
// same source wins over the ASP.NET one (it was written for Switchboard).
struct layer {
    std::vector<setting> native;
    std::vector<setting> aspnet;
    // Unknown keys (with the nearest known name), ignored ASP.NET keys, conflicts.
    std::vector<std::string> warnings;
};

// Parses a --config file's text. Keys are serve's flag names ("listen", "max-connections"); a
// value is a string, number, boolean, or an array of those for repeatable flags. The ASP.NET
// sections ConnectionStrings, Redis, SignalR and Logging are read as appsettings.json's; comments
// and trailing commas are allowed, as ASP.NET allows them. `flags` are the known flag names.
// Errors name the file and the key.
[[nodiscard]] expected<layer> read_file(std::string_view text, std::string_view file_name,
                                        const std::vector<std::string>& flags);

// The ASP.NET `Section__Key` variables among `environment` (name, value pairs), e.g.
// Redis__ConnectionString or ConnectionStrings__RedisConnection; names are case-insensitive, as
// in .NET configuration. Other variables are not looked at.
[[nodiscard]] expected<layer> read_aspnet_environment(
    const std::vector<std::pair<std::string, std::string>>& environment);

// The known name closest to `name` by edit distance, or empty when none is close enough to be
// what was meant.
[[nodiscard]] std::string nearest(std::string_view name, const std::vector<std::string>& known);

// An ASP.NET TimeSpan ("00:00:15", "1.02:03:04.5") as a duration flag takes it ("15000ms"); other
// text is returned unchanged, for the flag to accept ("15s") or refuse.
[[nodiscard]] std::string timespan_to_duration(std::string_view text);

// Whether a flag's value is a secret, shown only redacted.
[[nodiscard]] bool is_secret(std::string_view flag);

// `value` of `flag` as it may be printed: secrets replaced, passwords taken out of connection
// strings.
[[nodiscard]] std::string redact(std::string_view flag, std::string_view value);

}  // namespace switchboard::config
