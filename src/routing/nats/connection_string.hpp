// NATS backplane specs: one URL or a comma-separated list, with Switchboard's options as query
// parameters, parsed into what the cnats options need.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::nats {

// Where and how to reach NATS. Defaults are the NATS clients' own: port 4222, no TLS.
struct connection_options {
    // "nats://host:port" or "tls://host:port" (IPv6 in brackets), credentials removed: they go
    // to cnats once, through `user`/`password` or `token`, so logs of the list show no secret.
    std::vector<std::string> servers;
    std::string user;
    std::string password;
    std::string token;
    // A .creds file (user JWT and NKey seed, as `nsc` writes it): NATS decentralized auth.
    std::string creds_file;

    // tls:// URLs. The server certificate is verified against the system trust store unless
    // tls_ca names a PEM bundle, which replaces it (a private CA).
    bool tls = false;
    std::string tls_ca_file;
    // A client certificate and its key (PEM) for servers that verify clients. Both or neither.
    std::string tls_cert_file;
    std::string tls_key_file;
    // The name checked against the certificate when it is not the host (connecting by address).
    std::string tls_hostname;
    // INSECURE: accept any server certificate. Only for tests; it must be asked for by name.
    bool tls_insecure_skip_verify = false;

    // Prepended to every subject, so one NATS account can host several deployments and
    // permissions can grant "switchboard.>"; always ends with '.' unless empty.
    std::string subject_prefix = "switchboard.";
    // The connection name the server shows in /connz and its logs.
    std::string name = "switchboard";
    // Copies of the presence KV bucket when the server creates it: 1, the KV default; 3 in a
    // cluster keeps presence through the loss of a node, at a Raft round per write.
    int presence_replicas = 1;
};

// Accepted forms (scheme case-insensitive; port 4222 when omitted):
//   nats://host[:port]                      one server
//   nats://a:4222,nats://b:4223             a cluster: servers to try (cnats also learns the
//                                           cluster's other members from the server)
//   nats://user:password@host:4222          user and password (percent-encoded in the URL)
//   nats://token@host:4222                  a token (a userinfo without ':')
//   tls://host:4222                         TLS for every server (all URLs of a list share
//                                           one scheme)
// Query parameters, after the last URL, apply to the whole list:
//   creds=PATH          a .creds file (JWT + NKey seed); excludes user/password and token
//   tls_ca=PATH         PEM CA bundle verifying the servers instead of the system store
//   tls_cert=PATH, tls_key=PATH
//                       client certificate and key (both or neither)
//   tls_hostname=NAME   the name to verify in the server certificate
//   tls_insecure=true   INSECURE: no certificate verification
//   prefix=TOKENS       subject prefix (default "switchboard."; '.' appended when missing;
//                       empty: none); tokens of [A-Za-z0-9_-]
//   name=NAME           connection name (default "switchboard")
//   presence_replicas=N presence bucket replicas, 1 to 5 (default 1), used when creating it
// tls_* parameters need tls:// URLs. Credentials repeated on several URLs must agree.
// Throws std::invalid_argument naming the offending key or URL (with its secrets redacted).
connection_options parse_connection_string(std::string_view text);

// The spec with passwords and tokens replaced by "***", for logs; never throws.
std::string redact_connection_string(std::string_view text);

}  // namespace switchboard::routing::nats
