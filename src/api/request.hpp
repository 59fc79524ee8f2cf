// The REST API's requests as Azure SignalR Service's data plane spells them (2022-06-01 and
// v1 paths): parsing of method, path and query into an operation, with the service's name rules.
#pragma once

// Boost 1.81's string_view (in verb.hpp) needs std::ostream complete.
#include <ostream>

#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::api {

enum class operation : unsigned char {
    health,
    broadcast,
    send_to_user,
    send_to_connection,
    send_to_group,
    add_connection_to_group,
    remove_connection_from_group,
    remove_connection_from_all_groups,
    add_user_to_group,
    remove_user_from_group,
    user_in_group,
    remove_user_from_all_groups,
    connection_exists,
    user_exists,
    group_exists,
    close_connection,
    close_all,
    close_group,
    close_user,
    // Switchboard's own reads of cluster-wide presence (docs/presence.md), paged.
    online_users,
    user_connections,
    group_members,
};

// A presence page holds at most this many entries (`limit`, default 100).
inline constexpr std::size_t max_page = 1000;

// At most this many `excluded` ids per request: bounds the per-recipient exclusion checks.
inline constexpr std::size_t max_excluded = 1000;
// Memberships without ttl last at most a year (the service's rule); longer ttls are capped.
inline constexpr std::int64_t max_ttl_seconds = 365LL * 24 * 3600;

struct api_request {
    operation op = operation::health;
    bool v1 = false;  // /api/v1/...: v1 success codes
    // The hub key: lower(application) + "_" + lower(hub), or lower(hub) (what clients and the
    // SDK's negotiate use as the hub name).
    std::string hub;
    std::string group;
    std::string user;
    std::string connection_id;
    std::vector<std::string> excluded;
    std::optional<std::int64_t> ttl;  // seconds, add_user_to_group only
    std::optional<std::string> reason;
    std::string cursor;       // presence reads: where the page starts (empty: the first)
    std::size_t limit = 100;  // presence reads: entries per page, 1..max_page
    // Whether the operation takes a PayloadMessage body.
    [[nodiscard]] bool has_body() const noexcept;
};

// Why a request cannot be served: an HTTP status, the service-style error code and a message.
struct api_error {
    unsigned status = 400;
    std::string code;
    std::string message;
};

struct parse_result {
    std::optional<api_request> request;
    api_error failure;  // meaningful when !request
};

// Parses `target` (origin form, raw: path segments are split before they are %-decoded, so an
// encoded '/' stays inside its name) for `method`. Paths that are not part of the API give 404,
// known paths with another method 405, bad names or query values 400.
parse_result parse_request(boost::beast::http::verb method, std::string_view target);

// The HTTP status of success, which differs between v1 and 2022-06-01 for some operations.
unsigned success_status(const api_request& request) noexcept;

// Name rules (specs/azure-rest-and-upstream.md §3). Each returns an empty string when valid,
// else the message for a 400.
std::string check_hub_name(std::string_view name);
std::string check_group_name(std::string_view name);
std::string check_user_id(std::string_view name);
std::string check_connection_id(std::string_view id);

// %-decodes `text`; nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace switchboard::api
