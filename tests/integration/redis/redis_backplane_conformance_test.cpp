// The scale-out specification on Redis: two routers, each with its own redis_backplane, on one
// real redis-server, and on a three-master Redis Cluster in sharded pub/sub mode. Also runs the
// echo filter for real: Redis sends every publication back.
#include "../../unit/routing/backplane_conformance.hpp"

#include "redis_cluster.hpp"
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

struct redis_cluster_factory {
    static bool available() { return testing::redis_server::available(); }
    // Forming a cluster takes seconds: one for the whole suite, stopped at exit. Each test
    // waits for all it sent and stops its servers before the next one starts.
    static testing::redis_cluster* cluster() {
        static auto shared = [] {
            auto c = std::make_unique<testing::redis_cluster>(3);
            return c->start() ? std::move(c) : nullptr;
        }();
        return shared.get();
    }
    void set_up() { ASSERT_NE(cluster(), nullptr) << "the local Redis Cluster did not form"; }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        redis::backplane_options options;
        options.client.connection.host = "127.0.0.1";
        options.client.connection.port = cluster()->node(0).port();
        options.client.connection.sharded = true;
        return std::make_unique<redis::redis_backplane>(control, std::move(options));
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(redis_cluster, backplane_conformance, redis_cluster_factory);

}  // namespace
}  // namespace switchboard::routing::conformance
