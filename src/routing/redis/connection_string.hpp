// Redis connection strings: StackExchange.Redis options ("host:port,password=...") and URLs.
#pragma once

#include "core/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::redis {

// Where and how to reach Redis. Defaults are Redis's own: port 6379, database 0, no TLS.
struct connection_options {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;  // empty: the legacy single-password AUTH (or none without a password)
    std::string password;
    bool tls = false;
    // Prepended to every channel name; lets several deployments share one Redis, the same
    // option ASP.NET Core reads from the StackExchange.Redis configuration.
    std::string channel_prefix;
    int database = 0;
    // Things the caller should log but that are not errors: ignored keys, extra endpoints.
    std::vector<std::string> notes;
};

// Accepts both forms, chosen by the "redis://" or "rediss://" scheme:
//   host:port,password=...,user=...,ssl=True,abortConnect=False,channelPrefix=...,
//       defaultDatabase=N     (keys case-insensitive; unknown keys ignored with a note;
//                              several endpoints allowed, the first is used)
//   redis://[user:password@]host[:port][/db], rediss://... (TLS)
// An IPv6 host is written in brackets in both forms: [::1]:6379.
expected<connection_options> parse_connection_string(std::string_view text);

}  // namespace switchboard::routing::redis
