#include "routing/redis/redis_registration.hpp"

#include "core/ascii.hpp"
#include "routing/redis/connection_string.hpp"
#include "routing/redis/redis_backplane.hpp"

#include <stdexcept>
#include <utility>

namespace switchboard::routing::redis {

namespace {

bool accepts(std::string_view spec) {
    return ascii_istarts_with(spec, "redis://") || ascii_istarts_with(spec, "rediss://") ||
           spec.find("://") == std::string_view::npos;
}

made_backplane make(std::string_view spec, const backplane_settings& settings) {
    auto connection = parse_connection_string(spec);
    if (!connection) {
        throw std::invalid_argument(connection.error_message());
    }
    made_backplane made;
    made.notes = std::move(connection->notes);
    made.channel_prefix = connection->channel_prefix;
    backplane_options options;
    options.client.connection = std::move(*connection);
    options.client.max_queued_bytes = settings.max_buffered_bytes;
    made.bus = std::make_unique<redis_backplane>(*settings.control, std::move(options));
    return made;
}

}  // namespace

void register_redis_backplane(backplane_factory& factory) {
    factory.add(
        {"redis",
         "redis://host:port, rediss://..., host:port,password=...,ssl=True,channelPrefix=...",
         accepts, make, redact_connection_string});
}

}  // namespace switchboard::routing::redis
