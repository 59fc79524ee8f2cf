#include "server/backends.hpp"

#include "routing/memory/memory_backplane.hpp"

// One block per optional backend: its CMake option defines the macro and links its library.
#ifdef SWITCHBOARD_BACKPLANE_REDIS
#include "routing/redis/redis_registration.hpp"
#endif

namespace switchboard {

const routing::backplane_factory& backplanes() {
    static const routing::backplane_factory factory = [] {
        routing::backplane_factory f;
        routing::register_memory_backplane(f);
#ifdef SWITCHBOARD_BACKPLANE_REDIS
        routing::redis::register_redis_backplane(f);  // last: its "host:port,..." is a catch-all
#endif
        return f;
    }();
    return factory;
}

}  // namespace switchboard
