// Names of the PostgreSQL bus's payload tables: one per hub, named as the ASP.NET Npgsql
// backplane's TableSlugGenerator names its message tables (the hub's name in lowercase).
#pragma once

#include <string>
#include <string_view>

namespace switchboard::routing::postgres {

// The hub of a logical channel: ASP.NET channel names start with "{hub}:"
// (scaleout/channels.hpp); a name without ':' is its own hub. Publisher and receivers apply the
// same rule to the same name, so a hub name holding ':' still maps to one table.
[[nodiscard]] std::string_view hub_of(std::string_view logical_channel) noexcept;

// "<hub in ASCII lowercase>_payloads", at most 63 bytes (a longer one is a digest, through
// bounded_channel_codec), unquoted: "chat" -> "chat_payloads".
[[nodiscard]] std::string payload_table_name(std::string_view hub);

// Its created_at index: "<table>_created_at", bounded the same way (index names share the
// schema's namespace with tables).
[[nodiscard]] std::string payload_index_name(std::string_view table);

}  // namespace switchboard::routing::postgres
