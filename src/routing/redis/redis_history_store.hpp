// The event history on Redis Streams (events::history_store): XADD per publication (Redis
// assigns the id; on the bus's own server, one script that also PUBLISHes it), XRANGE +
// XINFO STREAM per resume, on a Redis connection of its own.
#pragma once

#include "events/history_store.hpp"
#include "routing/redis/pubsub_client.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace switchboard::routing::redis {

// A client of its own rather than the backplane's: an XRANGE reply (up to --events-history
// events) must not hold up the PUBLISH pipeline, and the backplane's client may be a cluster
// (sharded pub/sub), where stream keys route by key slot, which cluster_client does not do yet.
// Single server only for now: the factory refuses sharded connections (next step).
// Threading: the client and every callback into it live on `context` (the control shard);
// append() and read_after() may be called from any shard and post there; answers are posted to
// the executor each call names. No locks.
class redis_history_store final : public events::history_store {
public:
    // Throws std::invalid_argument for options the client cannot honour (startup only).
    redis_history_store(boost::asio::io_context& context, client_options client,
                        events::history_store_options options);
    ~redis_history_store() override;
    redis_history_store(const redis_history_store&) = delete;
    redis_history_store& operator=(const redis_history_store&) = delete;

    void start() override;
    void stop() override;

    void append(const std::string& channel, const std::string& type, const std::string& data_json,
                events::bus_copy copy, boost::asio::any_io_executor reply_on,
                append_callback done) override;
    [[nodiscard]] bool publishes() const noexcept override {
        return scripted_.load(std::memory_order_relaxed);
    }
    void read_after(const std::string& channel, events::event_id after, std::size_t limit,
                    boost::asio::any_io_executor reply_on, range_callback done) override;
    [[nodiscard]] bool available() const noexcept override {
        return available_.load(std::memory_order_relaxed);
    }

private:
    void do_append(std::string key, std::string type, std::string data_json, events::bus_copy copy,
                   boost::asio::any_io_executor reply_on, append_callback done);
    void on_state(bool up);
    void load_script();
    void do_read(std::string key, events::event_id after, std::size_t limit,
                 boost::asio::any_io_executor reply_on, range_callback done);

    boost::asio::io_context& context_;
    std::unique_ptr<pubsub_client> client_;
    events::history_store_options options_;
    std::atomic<bool> available_{false};
    // options_.publish until Redis refuses the script (an ACL user without scripting, say):
    // from then on XADD, and the caller publishes.
    std::atomic<bool> scripted_;
};

}  // namespace switchboard::routing::redis
