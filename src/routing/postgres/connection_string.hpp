// PostgreSQL connection strings: URLs, libpq conninfo and the Npgsql "Host=...;..." form that
// ASP.NET deployments carry, all turned into one libpq conninfo.
#pragma once

#include "core/expected.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::postgres {

struct connection_options {
    // A libpq conninfo ("key='value' ..."), every value quoted; holds the password.
    std::string conninfo;
    // Enforced by the backplane (libpq leaves it to the caller of PQconnectPoll). 15 s:
    // Npgsql's `Timeout` default, which the deployments this replaces relied on.
    std::chrono::milliseconds connect_timeout{15'000};
    // Ignored keys and the like, free of secrets: for a warning.
    std::vector<std::string> notes;
};

// Accepts, chosen by shape:
//   postgres://[user[:password]@]host[:port][/dbname][?key=value&...], postgresql://...
//       (libpq's URI syntax, e.g. ?sslmode=verify-full&connect_timeout=5)
//   host=... port=... dbname=... user=... password=... sslmode=...   (libpq conninfo)
//   Host=...;Port=...;Database=...;Username=...;Password=...;SSL Mode=...   (Npgsql: keys
//       case-insensitive, spaces in keys ignored, synonyms Server, Db, User ID/UserId/User
//       Name/UID, Pwd/Psw; "Host=a:5433,b" lists hosts; pooling and other client-side keys
//       are noted and ignored; an unknown key is an error, as in Npgsql)
// Errors name the key (and never a password).
[[nodiscard]] expected<connection_options> parse_connection_string(std::string_view text);

// Whether the text has one of the shapes above (not whether it is valid): a postgres(ql)://
// scheme, or a first key that is a libpq or Npgsql keyword. "localhost:6379,password=x" and
// other StackExchange.Redis strings are not.
[[nodiscard]] bool looks_like_connection_string(std::string_view text);

// Appends " key='value'" (no leading space on an empty string) with libpq's quoting.
void append_conninfo_option(std::string& out, std::string_view key, std::string_view value);

// The text with every password replaced by "***", for logs.
[[nodiscard]] std::string redact_connection_string(std::string_view text);

}  // namespace switchboard::routing::postgres
