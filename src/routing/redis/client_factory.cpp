#include "routing/redis/client_factory.hpp"

#include "routing/redis/cluster_client.hpp"

namespace switchboard::routing::redis {

std::unique_ptr<pubsub_client> make_pubsub_client(boost::asio::io_context& context,
                                                  client_options options) {
    if (options.connection.sharded) {
        return std::make_unique<cluster_client>(context, std::move(options));
    }
    return std::make_unique<redis_client>(context, std::move(options));
}

}  // namespace switchboard::routing::redis
