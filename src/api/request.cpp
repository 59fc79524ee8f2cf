#include "api/request.hpp"

#include "core/ascii.hpp"
#include "core/utf8.hpp"

#include <algorithm>
#include <charconv>

namespace switchboard::api {

namespace bhttp = boost::beast::http;

namespace {

using verb = bhttp::verb;

bool is_control(unsigned char c) noexcept {
    return c < 0x20 || c == 0x7f;
}

// Printable text of bounded length: control characters would end up in logs and in other
// instances' bus messages, and dot segments are rewritten by proxies on the way here.
std::string check_text(std::string_view name, std::string_view what, std::size_t max) {
    if (name.empty() || name.size() > max) {
        return "Invalid " + std::string(what) + ". Valid " + std::string(what) +
               " should be between 1 and " + std::to_string(max) + " characters long.";
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
        return "Invalid " + std::string(what) + ": control characters are not allowed.";
    }
    if (!is_valid_utf8(name)) {
        return "Invalid " + std::string(what) + ": not valid UTF-8.";
    }
    if (name == "." || name == "..") {
        return "Invalid " + std::string(what) + ": '.' and '..' are not names.";
    }
    return {};
}

api_error not_found() {
    return {404, "Error.NotFound",
            "No such REST API operation (see /api/openapi.json for the operations served)."};
}

api_error bad_request(std::string message) {
    return {400, "Error.InvalidArgument", std::move(message)};
}

struct query {
    std::optional<std::string> application;
    std::vector<std::string> excluded;
    std::optional<std::string> ttl;
    std::optional<std::string> reason;
    std::optional<std::string> cursor;
    std::optional<std::string> limit;
};

// Reads the query parameters the API knows; others (api-version, ...) are ignored as the
// service ignores unknown ones.
std::optional<api_error> parse_query(std::string_view text, query& out) {
    while (!text.empty()) {
        const auto amp = text.find('&');
        const auto pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        const auto key = ascii_lower(pair.substr(0, eq));
        auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!value) {
            return bad_request("Malformed %-escape in the query string.");
        }
        if (key == "application") {
            out.application = std::move(*value);
        } else if (key == "excluded") {
            if (out.excluded.size() == max_excluded) {
                return bad_request("At most " + std::to_string(max_excluded) +
                                   " excluded connection ids.");
            }
            if (auto bad = check_connection_id(*value); !bad.empty()) {
                return bad_request("excluded: " + bad);
            }
            out.excluded.push_back(std::move(*value));
        } else if (key == "ttl") {
            out.ttl = std::move(*value);
        } else if (key == "cursor") {
            out.cursor = std::move(*value);
        } else if (key == "limit") {
            out.limit = std::move(*value);
        } else if (key == "reason") {
            if (value->size() > 1024 || std::any_of(value->begin(), value->end(), [](char c) {
                    return is_control(static_cast<unsigned char>(c));
                })) {
                return bad_request(
                    "Invalid reason: at most 1024 characters, no control "
                    "characters.");
            }
            out.reason = std::move(*value);
        }
    }
    return std::nullopt;
}

// The operation a path (after the hub segment) and method name; nullopt: no such path.
struct route_match {
    std::optional<operation> op;
    bool path_known = false;
};

route_match match(verb method, const std::vector<std::string>& rest, bool v1) {
    const auto n = rest.size();
    const bool get_or_head = method == verb::get || method == verb::head;
    route_match m;
    const auto pick = [&](bool ok, operation op) {
        m.path_known = true;
        if (ok) {
            m.op = op;
        }
    };
    if (v1) {
        if (n == 0) {
            pick(method == verb::post, operation::broadcast);
        } else if (n == 2 && rest[0] == "users") {
            pick(method == verb::post, operation::send_to_user);
            if (get_or_head) {
                m.op = operation::user_exists;
            }
        } else if (n == 2 && rest[0] == "connections") {
            pick(method == verb::post, operation::send_to_connection);
            if (get_or_head) {
                m.op = operation::connection_exists;
            } else if (method == verb::delete_) {
                m.op = operation::close_connection;
            }
        } else if (n == 2 && rest[0] == "groups") {
            pick(method == verb::post, operation::send_to_group);
            if (get_or_head) {
                m.op = operation::group_exists;
            }
        } else if (n == 4 && rest[0] == "groups" && rest[2] == "users") {
            m.path_known = true;
        } else if (n == 4 && rest[0] == "groups" && rest[2] == "connections") {
            m.path_known = true;
        } else if (n == 3 && rest[0] == "users" && rest[2] == "groups") {
            pick(method == verb::delete_, operation::remove_user_from_all_groups);
        }
        if (n == 4 && rest[0] == "groups") {
            const bool users = rest[2] == "users";
            if (method == verb::put) {
                m.op = users ? operation::add_user_to_group : operation::add_connection_to_group;
            } else if (method == verb::delete_) {
                m.op = users ? operation::remove_user_from_group
                             : operation::remove_connection_from_group;
            } else if (get_or_head && users) {
                m.op = operation::user_in_group;
            }
        }
        return m;
    }
    if (n == 1 && rest[0] == "users") {
        pick(get_or_head, operation::online_users);
    } else if (n == 3 && rest[0] == "users" && rest[2] == "connections") {
        pick(get_or_head, operation::user_connections);
    } else if (n == 3 && rest[0] == "groups" && rest[2] == "members") {
        pick(get_or_head, operation::group_members);
    } else if (n == 1 && rest[0] == ":send") {
        pick(method == verb::post, operation::broadcast);
    } else if (n == 1 && rest[0] == ":closeconnections") {
        pick(method == verb::post, operation::close_all);
    } else if (n >= 2 && rest[0] == "users") {
        if (n == 3 && rest[2] == ":send") {
            pick(method == verb::post, operation::send_to_user);
        } else if (n == 3 && rest[2] == ":closeconnections") {
            pick(method == verb::post, operation::close_user);
        } else if (n == 2) {
            pick(get_or_head, operation::user_exists);
        } else if (n == 3 && rest[2] == "groups") {
            pick(method == verb::delete_, operation::remove_user_from_all_groups);
        } else if (n == 4 && rest[2] == "groups") {
            m.path_known = true;
            if (method == verb::put) {
                m.op = operation::add_user_to_group;
            } else if (method == verb::delete_) {
                m.op = operation::remove_user_from_group;
            } else if (get_or_head) {
                m.op = operation::user_in_group;  // the SDK sends GET, the docs say HEAD
            }
        }
    } else if (n >= 2 && rest[0] == "connections") {
        if (n == 3 && rest[2] == ":send") {
            pick(method == verb::post, operation::send_to_connection);
        } else if (n == 3 && rest[2] == "groups") {
            pick(method == verb::delete_, operation::remove_connection_from_all_groups);
        } else if (n == 2) {
            m.path_known = true;
            if (get_or_head) {
                m.op = operation::connection_exists;
            } else if (method == verb::delete_) {
                m.op = operation::close_connection;
            }
        }
    } else if (n >= 2 && rest[0] == "groups") {
        if (n == 3 && rest[2] == ":send") {
            pick(method == verb::post, operation::send_to_group);
        } else if (n == 3 && rest[2] == ":closeconnections") {
            pick(method == verb::post, operation::close_group);
        } else if (n == 2) {
            pick(get_or_head, operation::group_exists);
        } else if (n == 4 && (rest[2] == "connections" || rest[2] == "users")) {
            // groups/{g}/users/{u}: the v1 order, which the emulator also serves under /api.
            const bool users = rest[2] == "users";
            m.path_known = true;
            if (method == verb::put) {
                m.op = users ? operation::add_user_to_group : operation::add_connection_to_group;
            } else if (method == verb::delete_) {
                m.op = users ? operation::remove_user_from_group
                             : operation::remove_connection_from_group;
            } else if (get_or_head && users) {
                m.op = operation::user_in_group;
            }
        }
    }
    return m;
}

}  // namespace

bool api_request::has_body() const noexcept {
    return op == operation::broadcast || op == operation::send_to_user ||
           op == operation::send_to_connection || op == operation::send_to_group;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        unsigned value = 0;
        const auto* first = text.data() + i + 1;
        const auto [end, ec] = std::from_chars(first, first + 2, value, 16);
        if (ec != std::errc{} || end != first + 2) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(value));
        i += 2;
    }
    return out;
}

std::string check_hub_name(std::string_view name) {
    const auto valid_rest = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '`' || c == ',' || c == '.' || c == '[' || c == ']';
    };
    const bool ok = !name.empty() && name.size() <= 128 &&
                    ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) &&
                    std::all_of(name.begin() + 1, name.end(), valid_rest);
    if (ok) {
        return {};
    }
    return "Invalid hub name. Valid hub name should be in between 1 and 128 characters long. The "
           "first character must be a letter, other characters can be letters, digits or the "
           "following symbols _`,.[]";
}

std::string check_group_name(std::string_view name) {
    if (!name.empty() && std::all_of(name.begin(), name.end(), ascii_space)) {
        return "Invalid group name: not all whitespace.";
    }
    return check_text(name, "group name", 1024);
}

std::string check_user_id(std::string_view name) {
    return check_text(name, "user id", 1024);
}

std::string check_connection_id(std::string_view id) {
    return check_text(id, "connection id", 256);
}

parse_result parse_request(verb method, std::string_view target) {
    parse_result result;
    const auto qmark = target.find('?');
    const auto path = target.substr(0, qmark);
    const auto query_text =
        qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
    // Raw segments first, %-decoded after: "g%2F1" is one group named "g/1".
    std::vector<std::string> segments;
    std::string_view rest = path;
    if (rest.empty() || rest.front() != '/') {
        result.failure = not_found();
        return result;
    }
    rest.remove_prefix(1);
    while (true) {
        const auto slash = rest.find('/');
        auto decoded = percent_decode(rest.substr(0, slash));
        if (!decoded) {
            result.failure = bad_request("Malformed %-escape in the path.");
            return result;
        }
        segments.push_back(std::move(*decoded));
        if (segments.size() > 12) {
            result.failure = not_found();
            return result;
        }
        if (slash == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(slash + 1);
    }
    // A trailing '/' is tolerated, as the service's router does.
    if (segments.size() > 1 && segments.back().empty()) {
        segments.pop_back();
    }
    if (segments.empty() || ascii_lower(segments[0]) != "api") {
        result.failure = not_found();
        return result;
    }
    std::size_t i = 1;
    api_request request;
    if (i < segments.size() && ascii_lower(segments[i]) == "v1") {
        request.v1 = true;
        ++i;
    }
    if (segments.size() == i + 1 && ascii_lower(segments[i]) == "health") {
        if (method != verb::head && method != verb::get) {
            result.failure = {405, "Error.MethodNotAllowed", "Use HEAD or GET."};
            return result;
        }
        request.op = operation::health;
        result.request = std::move(request);
        return result;
    }
    if (segments.size() < i + 2 || ascii_lower(segments[i]) != "hubs") {
        result.failure = not_found();
        return result;
    }
    const std::string& hub = segments[i + 1];
    std::vector<std::string> tail(segments.begin() + static_cast<std::ptrdiff_t>(i + 2),
                                  segments.end());
    // Keywords (even positions) match case-insensitively; names keep their case.
    for (std::size_t k = 0; k < tail.size(); k += 2) {
        tail[k] = ascii_lower(tail[k]);
    }
    const auto matched = match(method, tail, request.v1);
    if (!matched.op) {
        result.failure = matched.path_known
                             ? api_error{405, "Error.MethodNotAllowed",
                                         "This path does not take " +
                                             std::string(bhttp::to_string(method)) + "."}
                             : not_found();
        return result;
    }
    request.op = *matched.op;

    query q;
    if (auto bad = parse_query(query_text, q)) {
        result.failure = std::move(*bad);
        return result;
    }
    if (auto bad = check_hub_name(hub); !bad.empty()) {
        result.failure = bad_request(std::move(bad));
        return result;
    }
    if (q.application && !q.application->empty()) {
        if (!check_hub_name(*q.application).empty()) {
            result.failure = bad_request(
                "Invalid value of 'application'. Valid application name should be in between 1 "
                "and 128 characters long. The first character must be a letter, other "
                "characters can be letters, digits or the following symbols _`,.[]");
            return result;
        }
        request.hub = ascii_lower(*q.application) + "_" + ascii_lower(hub);
    } else {
        request.hub = ascii_lower(hub);
    }
    // Names by position: users/{u}, connections/{c}, groups/{g}, in either order.
    for (std::size_t k = 0; k + 1 < tail.size(); k += 2) {
        const auto& kind = tail[k];
        const auto& name = tail[k + 1];
        std::string bad;
        if (kind == "users") {
            bad = check_user_id(name);
            request.user = name;
        } else if (kind == "connections") {
            bad = check_connection_id(name);
            request.connection_id = name;
        } else if (kind == "groups") {
            bad = check_group_name(name);
            request.group = name;
        }
        if (!bad.empty()) {
            result.failure = bad_request(std::move(bad));
            return result;
        }
    }
    request.excluded = std::move(q.excluded);
    request.reason = std::move(q.reason);
    request.cursor = q.cursor.value_or(std::string());
    if (q.cursor && q.cursor->size() > 256) {
        result.failure = bad_request("Invalid cursor: at most 256 characters.");
        return result;
    }
    if (q.limit) {
        std::size_t limit = 0;
        const auto* first = q.limit->data();
        const auto [end, ec] = std::from_chars(first, first + q.limit->size(), limit);
        if (ec != std::errc{} || end != first + q.limit->size() || limit == 0 || limit > max_page) {
            result.failure = bad_request("Invalid limit: a whole number from 1 to " +
                                         std::to_string(max_page) + ".");
            return result;
        }
        request.limit = limit;
    }
    if (q.ttl && request.op == operation::add_user_to_group) {
        std::int64_t ttl = -1;
        const auto* first = q.ttl->data();
        const auto [end, ec] = std::from_chars(first, first + q.ttl->size(), ttl);
        if (ec != std::errc{} || end != first + q.ttl->size() || ttl < 0) {
            result.failure = bad_request("Invalid ttl: a whole number of seconds, 0 or more.");
            return result;
        }
        request.ttl = std::min(ttl, max_ttl_seconds);
    }
    result.request = std::move(request);
    return result;
}

unsigned success_status(const api_request& request) noexcept {
    switch (request.op) {
    case operation::broadcast:
    case operation::send_to_user:
    case operation::send_to_connection:
    case operation::send_to_group:
        return 202;
    case operation::add_user_to_group:
        return request.v1 ? 202 : 200;
    case operation::remove_user_from_group:
        return request.v1 ? 202 : 204;
    case operation::remove_user_from_all_groups:
        return request.v1 ? 200 : 204;
    case operation::close_connection:
        return request.v1 ? 202 : 200;
    case operation::close_all:
    case operation::close_group:
    case operation::close_user:
        return 204;
    default:
        return 200;
    }
}

}  // namespace switchboard::api
