#include "routing/publication_json.hpp"

#include <boost/json/parse.hpp>

#include <string>

namespace switchboard::routing {

namespace {

// By appends: GCC 12 warns falsely (-Wrestrict) on "\"" + std::string(...) + ...
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    (out.append(parts), ...);
    return out;
}

// A string or an array of strings, as `key` of a line.
expected<std::vector<std::string>> strings_of(const boost::json::value& value, std::string_view key,
                                              bool array) {
    const auto wrong = [&] {
        return make_error(
            cat("\"", key, "\" must be ", array ? "an array of strings" : "a string"));
    };
    std::vector<std::string> out;
    if (!array) {
        if (!value.is_string()) {
            return wrong();
        }
        out.emplace_back(value.get_string());
        return out;
    }
    if (!value.is_array()) {
        return wrong();
    }
    for (const auto& item : value.get_array()) {
        if (!item.is_string()) {
            return wrong();
        }
        out.emplace_back(item.get_string());
    }
    return out;
}

struct recipient_key {
    std::string_view name;
    recipients::kind kind;
    bool array;
};

constexpr recipient_key recipient_keys[] = {
    {"user", recipients::kind::users, false},
    {"users", recipients::kind::users, true},
    {"group", recipients::kind::groups, false},
    {"groups", recipients::kind::groups, true},
    {"connection", recipients::kind::connections, false},
    {"connections", recipients::kind::connections, true},
};

}  // namespace

expected<boost::json::array> parse_arguments(std::string_view text) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return boost::json::array{};
    }
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    if (ec) {
        return make_error(
            cat("ARGUMENTS must be JSON (", ec.message(), "); a string needs quotes: '\"text\"'"));
    }
    if (value.is_array()) {
        return std::move(value.get_array());
    }
    boost::json::array one;
    one.push_back(std::move(value));
    return one;
}

expected<publication> parse_publication_line(std::string_view line, const publication& defaults) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    if (ec) {
        return make_error(cat("not JSON (", ec.message(), ")"));
    }
    if (!value.is_object()) {
        return make_error("not a JSON object");
    }
    auto out = defaults;
    bool addressed = false;
    for (const auto& [key, item] : value.get_object()) {
        if (key == "target") {
            if (!item.is_string()) {
                return make_error("\"target\" must be a string");
            }
            out.target = std::string(item.get_string());
        } else if (key == "arguments") {
            if (!item.is_array()) {
                return make_error("\"arguments\" must be an array");
            }
            out.arguments = item.get_array();
        } else if (key == "hub") {
            if (!item.is_string()) {
                return make_error("\"hub\" must be a string");
            }
            out.hub = std::string(item.get_string());
        } else if (key == "exclude") {
            auto ids = strings_of(item, key, item.is_array());
            if (!ids) {
                return make_error("\"exclude\" must be a string or an array of strings");
            }
            out.to.excluded = std::move(*ids);
        } else if (key == "all") {
            if (!item.is_bool() || !item.get_bool()) {
                return make_error("\"all\" must be true");
            }
            if (addressed) {
                return make_error("more than one of all, user(s), group(s), connection(s)");
            }
            addressed = true;
            out.to.type = recipients::kind::all;
            out.to.names.clear();
        } else {
            const recipient_key* match = nullptr;
            for (const auto& candidate : recipient_keys) {
                if (key == candidate.name) {
                    match = &candidate;
                }
            }
            if (match == nullptr) {
                return make_error(cat("unknown key \"", std::string_view(key),
                                      "\" (expected target, arguments, all, user, users, group, "
                                      "groups, connection, connections, exclude, hub)"));
            }
            if (addressed) {
                return make_error("more than one of all, user(s), group(s), connection(s)");
            }
            addressed = true;
            auto names = strings_of(item, key, match->array);
            if (!names) {
                return names.get_error();
            }
            out.to.type = match->kind;
            out.to.names = std::move(*names);
        }
    }
    if (auto ok = check_publication(out); !ok) {
        return ok.get_error();
    }
    return out;
}

}  // namespace switchboard::routing
