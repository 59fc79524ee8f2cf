// Redis connection strings: StackExchange.Redis options ("host:port,password=...") and URLs.
#pragma once

#include "core/expected.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::redis {

struct endpoint {
    std::string host;
    std::uint16_t port = 6379;
};

// Where and how to reach Redis. Defaults are Redis's own: port 6379, database 0, no TLS.
struct connection_options {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;  // empty: the legacy single-password AUTH (or none without a password)
    std::string password;

    bool tls = false;
    // The server certificate is verified against the system trust store (Debian's
    // ca-certificates) by default: managed Redis services use public CAs. A private CA (a
    // self-hosted Redis) is given as a PEM file instead; it replaces the system store.
    std::string tls_ca_file;
    // The name sent as SNI and checked against the certificate when it is not `host` (e.g.
    // connecting by IP address or through a tunnel). Empty: `host`.
    std::string tls_host;
    // A client certificate and its key (PEM) for servers that ask for one: redis-server's own
    // default is tls-auth-clients yes. Both or neither.
    std::string tls_cert_file;
    std::string tls_key_file;
    // INSECURE: accept any server certificate, so anyone on the path can read and alter the
    // traffic. Only for tests and debugging; it must be asked for by name, never implied.
    bool tls_insecure_skip_verify = false;

    // Redis Cluster with sharded pub/sub (Redis 7: SPUBLISH/SSUBSCRIBE): each channel lives on
    // the master owning its hash slot, so pub/sub traffic scales with the shards instead of
    // being broadcast to every node. Off: one server (or a cluster's classic, broadcast
    // pub/sub through one node).
    bool sharded = false;
    // Further endpoints of the connection string: more seeds to discover a cluster from in
    // sharded mode; unused (and noted) otherwise.
    std::vector<endpoint> more_endpoints;

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
//                              several endpoints allowed: the first is used, the others are
//                              more seeds in sharded mode)
//   redis://[user:password@]host[:port][/db][?key=value&...], rediss://... (TLS)
// An IPv6 host is written in brackets in both forms: [::1]:6379.
//
// Switchboard's own keys, in both forms (as `key=value` items or as URL query parameters):
//   sslCaFile=PATH                 PEM CA bundle verifying the server instead of the system
//                                  store (private CA)
//   sslHost=NAME                   SNI and certificate name when not the host (StackExchange's
//                                  key)
//   sslCertFile=PATH, sslKeyFile=PATH
//                                  client certificate (tls-auth-clients)
//   sslInsecureSkipVerify=true     INSECURE: no certificate verification at all
//   shardedPubSub=true             Redis Cluster, sharded pub/sub (SPUBLISH/SSUBSCRIBE)
//   channelPrefix=...              (URL query too)
// The ssl* keys need TLS (ssl=True or rediss://); given without it they are noted and unused.
expected<connection_options> parse_connection_string(std::string_view text);

// The connection string with its password replaced by "***", for logs.
std::string redact_connection_string(std::string_view text);

}  // namespace switchboard::routing::redis
