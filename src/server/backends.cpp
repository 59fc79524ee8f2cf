#include "server/backends.hpp"

#include "routing/memory/memory_backplane.hpp"

// One block per optional backend: its CMake option defines the macro and links its library.
#ifdef SWITCHBOARD_BACKPLANE_POSTGRES
#include "routing/postgres/postgres_registration.hpp"
#endif
#ifdef SWITCHBOARD_BACKPLANE_NATS
#include "routing/nats/nats_registration.hpp"
#endif
#ifdef SWITCHBOARD_BACKPLANE_REDIS
#include "routing/redis/redis_registration.hpp"
#endif

namespace switchboard {

const routing::backplane_factory& backplanes() {
    static const routing::backplane_factory factory = [] {
        routing::backplane_factory f;
        routing::register_memory_backplane(f);
#ifdef SWITCHBOARD_BACKPLANE_POSTGRES
        routing::postgres::register_postgres_backplane(f);  // before Redis: "Host=...;..." forms
#endif
#ifdef SWITCHBOARD_BACKPLANE_NATS
        routing::nats::register_nats_backplane(f);
#endif
#ifdef SWITCHBOARD_BACKPLANE_REDIS
        routing::redis::register_redis_backplane(f);  // last: its "host:port,..." is a catch-all
#endif
        return f;
    }();
    return factory;
}

routing::blocking_publisher::bus_maker backplane_maker(std::string spec,
                                                       std::size_t max_buffered_bytes) {
    return [spec = std::move(spec), max_buffered_bytes](boost::asio::io_context& control) {
        routing::backplane_settings settings;
        settings.control = &control;
        settings.max_buffered_bytes = max_buffered_bytes;
        return backplanes().make(spec, settings);
    };
}

}  // namespace switchboard
