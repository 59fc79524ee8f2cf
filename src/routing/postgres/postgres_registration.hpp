// The PostgreSQL backplane's entry in the backplane factory: its accepted forms (URLs, libpq
// conninfo, Npgsql connection strings) and how one becomes a postgres_backplane.
#pragma once

#include "routing/backplane_factory.hpp"

#include <string_view>

namespace switchboard::routing::postgres {

// Whether `spec` is a PostgreSQL form: "postgres://", "postgresql://", or a "key=value" string
// whose first key is a libpq or Npgsql keyword (so "localhost:6379,password=x" stays Redis's).
[[nodiscard]] bool accepts_spec(std::string_view spec);

// Add it before Redis, whose "host:port,..." form is a catch-all.
void register_postgres_backplane(backplane_factory& factory);

}  // namespace switchboard::routing::postgres
