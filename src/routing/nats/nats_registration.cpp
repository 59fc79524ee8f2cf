#include "routing/nats/nats_registration.hpp"

#include "core/ascii.hpp"
#include "presence/nats/nats_presence_store.hpp"
#include "routing/nats/connection_string.hpp"
#include "routing/nats/log_backplane.hpp"
#include "routing/nats/nats_backplane.hpp"

#include <utility>

namespace switchboard::routing::nats {

namespace {

bool accepts(std::string_view spec) {
    return ascii_istarts_with(spec, "nats://") || ascii_istarts_with(spec, "tls://");
}

made_backplane make(std::string_view spec, const backplane_settings& settings) {
    backplane_options options;
    options.connection = parse_connection_string(spec);
    if (settings.max_buffered_bytes > 0) {
        options.max_buffered_bytes = settings.max_buffered_bytes;
    }
    made_backplane made;
    // Presence in a JetStream KV bucket of the same servers, on a connection of its own.
    made.make_presence = [control = settings.control,
                          connection = options.connection](presence::store_options presence) {
        // Deployments apart by subject prefix on the bus are apart in the bucket too.
        presence.key_prefix = connection.subject_prefix + presence.key_prefix;
        presence::nats::nats_store_options nats;
        nats.connection = connection;
        nats.replicas = connection.presence_replicas;
        return std::unique_ptr<presence::store>(std::make_unique<presence::nats::nats_store>(
            *control, std::move(nats), std::move(presence)));
    };
    if (settings.durable_window.count() > 0) {
        // Durable mode: one JetStream stream carries every publication (log_backplane.hpp).
        log_options durable;
        durable.connection = options.connection;
        durable.server_name = settings.server_name;
        durable.window = settings.durable_window;
        durable.max_entries = settings.durable_max_entries;
        durable.max_bytes = settings.durable_max_bytes;
        durable.replicas = options.connection.presence_replicas;
        durable.max_buffered_bytes = options.max_buffered_bytes;
        auto bus = std::make_unique<log_backplane>(*settings.control, std::move(durable));
        made.log = bus.get();
        made.bus = std::move(bus);
        return made;
    }
    // The subject prefix lives in the bus's codec, not in the router's channel names: ASP.NET
    // has no NATS backplane whose channel names these would have to match.
    made.bus = std::make_unique<nats_backplane>(*settings.control, std::move(options));
    return made;
}

}  // namespace

void register_nats_backplane(backplane_factory& factory) {
    factory.add({"nats",
                 "nats://[user:password@|token@]host:4222[,nats://host2:4222...], tls://... "
                 "[?creds=FILE&tls_ca=FILE&tls_cert=FILE&tls_key=FILE&tls_hostname=NAME&"
                 "tls_insecure=true&prefix=TOKENS.&name=NAME&presence_replicas=N]",
                 accepts, make, redact_connection_string});
}

}  // namespace switchboard::routing::nats
