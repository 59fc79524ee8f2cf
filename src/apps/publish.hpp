// `switchboard publish`: hub invocations straight into the backplane (no server socket), one
// from the command line or many from stdin (a JSON object per line), for workers and scripts.
#pragma once

#include "routing/publisher.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::apps {

struct publish_options {
    std::string backplane;  // a --backplane spec of a shared bus (redis://..., postgres, nats)
    // Or through a server's REST API (docs/rest-api.md): its URL and access key, or an
    // Azure-style connection string naming both. Then `hub` is the hub's name there.
    std::string url;
    std::string access_key;
    std::string connection_string;
    std::string hub;                            // the hub's backplane name
    std::optional<std::string> channel_prefix;  // nullopt: the bus spec's (channelPrefix=...)
    std::vector<std::string> users;
    std::vector<std::string> groups;
    std::vector<std::string> connections;
    std::vector<std::string> excluded;
    bool all = false;
    // Bounds the connection to the bus and, separately, the wait for its confirmations: a
    // bus on the same network answers in milliseconds; 5 s rides out a Redis failover.
    std::chrono::milliseconds timeout{5'000};
    std::string target;  // empty: publications from stdin
    std::string arguments;
};

inline constexpr int publish_exit_failed = 1;  // unreachable, not confirmed, dropped
inline constexpr int publish_exit_usage = 2;   // bad command line or stdin line

// The command line's recipients, or why they cannot go together.
expected<routing::recipients> recipients_of(const publish_options& options);

// Exit statuses: 0 every publication confirmed by the bus, 1 the bus unreachable or a
// publication not confirmed, 2 bad input (each bad stdin line is reported with its number and
// skipped; the good ones are still published).
int run_publish(const publish_options& options);

// One publication as REST API requests: (path, query) per request, the path under the server
// URL (`/api/hubs/{hub}/...:send`, names percent-encoded), the query with the exclusions.
std::vector<std::pair<std::string, std::string>> rest_requests(const std::string& hub,
                                                               const routing::recipients& to);

}  // namespace switchboard::apps
