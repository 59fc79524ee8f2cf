// Picks the Redis client for a connection string: one server (redis_client), or a cluster in
// sharded mode (cluster_client, shardedPubSub=true).
#pragma once

#include "routing/redis/pubsub_client.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>

namespace switchboard::routing::redis {

// Throws std::invalid_argument for options no client can honour (startup, not data path).
std::unique_ptr<pubsub_client> make_pubsub_client(boost::asio::io_context& context,
                                                  client_options options);

}  // namespace switchboard::routing::redis
