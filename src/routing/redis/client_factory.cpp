#include "routing/redis/client_factory.hpp"

namespace switchboard::routing::redis {

std::unique_ptr<pubsub_client> make_pubsub_client(boost::asio::io_context& context,
                                                  client_options options) {
    return std::make_unique<redis_client>(context, std::move(options));
}

}  // namespace switchboard::routing::redis
