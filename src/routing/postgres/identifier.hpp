// SQL identifiers the PostgreSQL backplane and presence store build statements with.
#pragma once

#include <string>
#include <string_view>

namespace switchboard::routing::postgres {

// `name` double-quoted with its double quotes doubled: any schema or table name is safe in a
// statement (PostgreSQL truncates past 63 bytes; callers check the length).
[[nodiscard]] std::string quote_identifier(std::string_view name);

}  // namespace switchboard::routing::postgres
