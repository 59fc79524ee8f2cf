// Authentication of REST API calls as Azure SignalR Service does it: HS256 bearer tokens signed
// with an access key, whose `aud` is the request URL; and Azure-style connection strings.
#pragma once

#include "auth/jwt.hpp"
#include "core/expected.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::api {

// `Endpoint=...;AccessKey=...;Version=1.0;` (specs/azure-rest-and-upstream.md §1).
struct connection_string {
    std::string endpoint;  // without trailing '/'
    std::string access_key;
    std::optional<std::uint16_t> port;
};

// Parsed with the SDK's rules: keys case-insensitive, duplicates refused, Endpoint absolute
// http(s), Version 1.x. Configuration only: the error says what is wrong.
expected<connection_string> parse_connection_string(std::string_view text);

// The parts of an audience (or a request URL) that are compared: host without port, lower case,
// and the %-decoded path without query string and trailing '/'. The SDK puts the public
// endpoint's host in `aud` whatever server it calls, without the port, and newer SDKs append
// the query; the scheme is not compared either, since behind a TLS-terminating proxy the server
// cannot know which one the caller used.
struct audience_key {
    std::string host;  // empty: any host
    std::string path;
    bool operator==(const audience_key&) const = default;
};
// From an absolute URL; nullopt when it is not one.
std::optional<audience_key> audience_of_url(std::string_view url);

// Why a call is refused: a short reason for WWW-Authenticate and the log.
struct auth_failure {
    std::string description;
};

// Immutable after construction: every shard validates concurrently.
class access_key_auth {
public:
    // `keys`: the access keys (32 bytes or more each); `public_host`: the Endpoint's host
    // tokens name, empty to accept the host the request was sent to (its Host header).
    static expected<access_key_auth> make(const std::vector<std::string>& keys,
                                          std::string public_host);

    // Checks `authorization` (the header's value) for a request to `raw_path` (the request
    // target's path, still %-encoded) sent to `host_header`.
    [[nodiscard]] std::optional<auth_failure> check(
        std::string_view authorization, std::string_view raw_path, std::string_view host_header,
        std::chrono::system_clock::time_point now) const;

private:
    access_key_auth(std::shared_ptr<const auth::jwt_validator> validator, std::string host)
        : validator_(std::move(validator)), public_host_(std::move(host)) {}

    std::shared_ptr<const auth::jwt_validator> validator_;
    std::string public_host_;
};

}  // namespace switchboard::api
