#include "apps/config_command.hpp"

#include "server/config_file.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

extern char** environ;  // NOLINT: POSIX, the process environment

namespace switchboard::apps {
namespace {

// The option's flag name without dashes, or empty for positionals and the help flag.
std::string flag_name(const CLI::Option& option) {
    if (option.get_lnames().empty()) {
        return {};
    }
    const auto& name = option.get_lnames().front();
    return name == "help" || name == "config" ? std::string() : name;
}

std::vector<std::pair<std::string, std::string>> environment() {
    std::vector<std::pair<std::string, std::string>> out;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string text(*entry);
        const auto equals = text.find('=');
        if (equals != std::string::npos) {
            out.emplace_back(text.substr(0, equals), text.substr(equals + 1));
        }
    }
    return out;
}

void collect_envnames(const CLI::App& app, std::set<std::string>& out) {
    for (const auto* option : app.get_options()) {
        if (!option->get_envname().empty()) {
            out.insert(option->get_envname());
        }
    }
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        collect_envnames(*sub, out);
    }
}

// SWITCHBOARD_* variables no option reads: a typo there otherwise fails silently.
void warn_unknown_variables(const CLI::App& root, std::vector<std::string>& warnings) {
    std::set<std::string> known;
    collect_envnames(root, known);
    known.insert("SWITCHBOARD_CONFIG");
    const std::vector<std::string> candidates(known.begin(), known.end());
    for (const auto& [name, value] : environment()) {
        // SWITCHBOARD_TEST_*: the test harness's own switches.
        if (!name.starts_with("SWITCHBOARD_") || name.starts_with("SWITCHBOARD_TEST_") ||
            known.contains(name)) {
            continue;
        }
        const auto suggestion = config::nearest(name, candidates);
        warnings.push_back("environment " + name + ": unknown variable ignored" +
                           (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
    }
}

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw config_error(path + ": cannot read: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool given_as_flag(const std::string& name, const std::vector<std::string>& argv) {
    const auto flag = "--" + name;
    for (const auto& arg : argv) {
        if (arg == flag || arg.starts_with(flag + "=")) {
            return true;
        }
    }
    return false;
}

}  // namespace

config_report apply_config(CLI::App& root, CLI::App& serve, const std::string& file,
                           const std::vector<std::string>& argv) {
    config_report report;
    warn_unknown_variables(root, report.warnings);
    std::vector<std::string> flags;
    for (auto* option : serve.get_options()) {
        if (auto name = flag_name(*option); !name.empty()) {
            flags.push_back(std::move(name));
        }
    }
    auto from_environment = config::read_aspnet_environment(environment());
    if (!from_environment) {
        throw config_error(from_environment.error_message());
    }
    config::layer from_file;
    if (!file.empty()) {
        auto parsed = config::read_file(read_whole_file(file), file, flags);
        if (!parsed) {
            throw config_error(parsed.error_message());
        }
        from_file = std::move(*parsed);
    }
    for (auto* layer : {&*from_environment, &from_file}) {
        report.warnings.insert(report.warnings.end(), layer->warnings.begin(),
                               layer->warnings.end());
    }
    // flag > SWITCHBOARD_* > ASP.NET variables > the file's keys > its ASP.NET sections.
    const std::vector<const std::vector<config::setting>*> layers{
        &from_environment->aspnet, &from_file.native, &from_file.aspnet};
    for (auto* option : serve.get_options()) {
        const auto name = flag_name(*option);
        if (name.empty()) {
            continue;
        }
        if (option->count() > 0) {
            report.sources.emplace_back(
                name, given_as_flag(name, argv) ? "flag" : "environment " + option->get_envname());
            continue;
        }
        const config::setting* found = nullptr;
        for (const auto* settings : layers) {
            for (const auto& candidate : *settings) {
                if (candidate.flag == name) {
                    found = &candidate;
                    break;
                }
            }
            if (found != nullptr) {
                break;
            }
        }
        if (found == nullptr) {
            report.sources.emplace_back(name, "default");
            continue;
        }
        try {
            option->add_result(found->values);
            option->run_callback();
        } catch (const CLI::Error& e) {
            std::string shown;
            for (const auto& value : found->values) {
                shown += (shown.empty() ? "" : ", ") + config::redact(name, value);
            }
            throw config_error(found->origin + ": bad value '" + shown + "' for --" + name + ": " +
                               e.what());
        }
        report.sources.emplace_back(name, found->origin);
    }
    return report;
}

int run_config_check(CLI::App& root, CLI::App& serve, const std::string& file,
                     const std::vector<std::string>& argv) {
    config_report report;
    try {
        report = apply_config(root, serve, file, argv);
        // Variables were read for every subcommand; check their values as serve would.
        for (auto* option : serve.get_options()) {
            if (option->count() > 0 && !flag_name(*option).empty()) {
                option->run_callback();
            }
        }
    } catch (const config_error& e) {
        std::fprintf(stderr, "switchboard: %s\n", e.what());
        return exit_bad_config;
    } catch (const CLI::Error& e) {
        std::fprintf(stderr, "switchboard: %s\n", e.what());
        return exit_bad_config;
    }
    for (const auto& warning : report.warnings) {
        std::fprintf(stderr, "switchboard: warning: %s\n", warning.c_str());
    }
    std::string out = "{\n";
    bool first = true;
    for (const auto& [name, source] : report.sources) {
        auto* option = serve.get_option(name.size() == 1 ? "-" + name : "--" + name);
        boost::json::object entry;
        const auto& results = option->results();
        if (results.empty()) {
            const auto fallback = option->get_default_str();
            entry["value"] = fallback.empty() ? boost::json::value(nullptr)
                                              : boost::json::value(config::redact(name, fallback));
        } else if (results.size() == 1) {
            entry["value"] = config::redact(name, results.front());
        } else {
            boost::json::array values;
            for (const auto& value : results) {
                values.emplace_back(config::redact(name, value));
            }
            entry["value"] = std::move(values);
        }
        entry["source"] = source;
        out += std::string(first ? "" : ",\n") + "  " +
               boost::json::serialize(boost::json::value(name)) + ": " +
               boost::json::serialize(entry);
        first = false;
    }
    out += "\n}\n";
    std::fputs(out.c_str(), stdout);
    return 0;
}

}  // namespace switchboard::apps
