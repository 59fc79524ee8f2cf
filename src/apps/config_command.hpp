// Layers a --config file and the ASP.NET variables under serve's flags, and `config check`.
#pragma once

#include <CLI/CLI.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::apps {

// The exit status of a configuration that cannot be used (bad value, unreadable file): the
// status of a usage error, so scripts and systemd tell it from a runtime failure (1).
inline constexpr int exit_bad_config = 2;

// A setting that cannot be used; the message names the key and where it came from.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where each setting of serve came from, by flag name: "flag", "environment NAME", "FILE: key".
struct config_report {
    std::vector<std::pair<std::string, std::string>> sources;
    std::vector<std::string> warnings;
};

// Fills every option of `serve` that neither a flag nor its SWITCHBOARD_* variable set, from the
// first of: the ASP.NET variables (Redis__ConnectionString, ...), the file's own keys, the
// file's ASP.NET sections; `file` empty: no file. Then the defaults stand. `argv` tells flags
// from variables in the report. Throws config_error.
config_report apply_config(CLI::App& root, CLI::App& serve, const std::string& file,
                           const std::vector<std::string>& argv);

// `switchboard config check FILE`: prints the effective configuration of serve as JSON on
// stdout (each flag's value, secrets redacted, and its source), warnings on stderr; 0 when it
// is usable, exit_bad_config when not.
int run_config_check(CLI::App& root, CLI::App& serve, const std::string& file,
                     const std::vector<std::string>& argv);

}  // namespace switchboard::apps
