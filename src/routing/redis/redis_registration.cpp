#include "routing/redis/redis_registration.hpp"

#include "core/ascii.hpp"
#include "presence/redis/redis_presence_store.hpp"
#include "routing/redis/connection_string.hpp"
#include "routing/redis/redis_backplane.hpp"
#include "routing/redis/redis_history_store.hpp"
#include "routing/redis/stream_backplane.hpp"

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
    // The store publishes as it appends where its server carries the bus's PUBLISHes: not
    // sharded (SPUBLISH goes to the channel's slot), not durable (the bus is a stream).
    const bool store_publishes = !connection->sharded && settings.durable_window.count() == 0;
    made.make_event_history = [control = settings.control, history_connection = *connection,
                               store_publishes](events::history_store_options history) {
        history.publish = store_publishes;
        client_options client;
        client.connection = history_connection;
        // A publication waits for its XADD: nothing to hold back after a reconnect.
        client.resume_delay = std::chrono::milliseconds(0);
        return std::unique_ptr<events::history_store>(
            std::make_unique<redis_history_store>(*control, std::move(client), std::move(history)));
    };
    made.make_presence = [control = settings.control,
                          presence_connection = *connection](presence::store_options options) {
        client_options client;
        client.connection = presence_connection;
        return std::unique_ptr<presence::store>(std::make_unique<presence::redis::redis_store>(
            *control, std::move(client), std::move(options)));
    };
    if (settings.durable_window.count() > 0) {
        if (connection->sharded || !connection->more_endpoints.empty()) {
            throw std::invalid_argument(
                "durable mode needs a single Redis server (a stream is one key)");
        }
        stream_options durable;
        durable.client.connection = std::move(*connection);
        durable.client.max_queued_bytes = settings.max_buffered_bytes;
        durable.server_name = settings.server_name;
        durable.key_prefix = made.channel_prefix;
        durable.window = settings.durable_window;
        durable.max_entries = settings.durable_max_entries;
        durable.max_bytes = settings.durable_max_bytes;
        auto bus = std::make_unique<stream_backplane>(*settings.control, std::move(durable));
        made.log = bus.get();
        made.bus = std::move(bus);
        return made;
    }
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
