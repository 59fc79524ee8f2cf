#include "routing/postgres/postgres_registration.hpp"

#include "presence/postgres/postgres_presence_store.hpp"
#include "routing/postgres/connection_string.hpp"
#include "routing/postgres/log_backplane.hpp"
#include "routing/postgres/postgres_backplane.hpp"

#include <stdexcept>
#include <utility>

namespace switchboard::routing::postgres {

namespace {

made_backplane make(std::string_view spec, const backplane_settings& settings) {
    auto connection = parse_connection_string(spec);
    if (!connection) {
        throw std::invalid_argument(connection.error_message());
    }
    const auto& schema = settings.database_schema;
    // An identifier: at most 63 bytes (longer ones are truncated silently), no NUL.
    if (schema.empty() || schema.size() > 63 || schema.find('\0') != std::string::npos) {
        throw std::invalid_argument("--postgres-schema: expected 1-63 bytes without NUL, got '" +
                                    schema + "'");
    }
    made_backplane made;
    made.notes = std::move(connection->notes);
    backplane_options options;
    options.conninfo = std::move(connection->conninfo);
    options.connect_timeout = connection->connect_timeout;
    options.schema = schema;
    options.max_buffered_bytes = settings.max_buffered_bytes;
    made.make_presence = [control = settings.control,
                          presence_connection = presence::postgres::connection_options{
                              options.conninfo, options.connect_timeout, options.schema,
                              options.initial_backoff,
                              options.max_backoff}](presence::store_options store) {
        return std::unique_ptr<presence::store>(
            std::make_unique<presence::postgres::postgres_store>(*control, presence_connection,
                                                                 std::move(store)));
    };
    if (settings.durable_window.count() > 0) {
        log_options durable;
        durable.conninfo = options.conninfo;
        durable.connect_timeout = options.connect_timeout;
        durable.schema = options.schema;
        durable.server_name = settings.server_name;
        durable.window = settings.durable_window;
        durable.max_entries = settings.durable_max_entries;
        durable.max_bytes = settings.durable_max_bytes;
        durable.max_buffered_bytes = settings.max_buffered_bytes;
        auto bus = std::make_unique<log_backplane>(*settings.control, std::move(durable));
        made.log = bus.get();
        made.bus = std::move(bus);
        return made;
    }
    made.bus = std::make_unique<postgres_backplane>(*settings.control, std::move(options));
    return made;
}

}  // namespace

bool accepts_spec(std::string_view spec) {
    return looks_like_connection_string(spec);
}

void register_postgres_backplane(backplane_factory& factory) {
    factory.add({"postgres",
                 "postgres://user:pass@host:port/db?sslmode=..., postgresql://..., "
                 "host=... port=... dbname=... user=... password=... sslmode=..., "
                 "Host=...;Port=...;Database=...;Username=...;Password=...;SSL Mode=...",
                 accepts_spec, make, redact_connection_string});
}

}  // namespace switchboard::routing::postgres
