// The scale-out specification on Redis: two routers, each with its own redis_backplane, on one
// real redis-server. Also runs the echo filter for real: Redis sends every publication back.
#include "../../unit/routing/backplane_conformance.hpp"

#include "redis_server.hpp"
#include "routing/redis/redis_backplane.hpp"

namespace switchboard::routing::conformance {
namespace {

struct redis_factory {
    static bool available() { return testing::redis_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        redis::backplane_options options;
        options.client.connection.host = "127.0.0.1";
        options.client.connection.port = server.port();
        return std::make_unique<redis::redis_backplane>(control, std::move(options));
    }
    testing::redis_server server;
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis, backplane_conformance, redis_factory);

}  // namespace
}  // namespace switchboard::routing::conformance
