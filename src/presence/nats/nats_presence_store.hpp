// Presence on NATS JetStream KV for instances on the NATS backplane (presence_layout.hpp has the
// keys): a worker thread runs cnats' blocking KV calls in order, a heartbeat that also reaps
// dead instances, and a per-instance memory store when the server has no JetStream.
#pragma once

#include "presence/presence_store.hpp"
#include "routing/nats/connection_string.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace switchboard::presence::nats {

struct nats_store_options {
    routing::nats::connection_options connection;
    // One bucket for every deployment on the server (store_options::key_prefix keeps them
    // apart), so an operator grants or inspects one name.
    std::string bucket = "switchboard_presence";
    // Copies of the bucket when this store creates it (connection_options::presence_replicas).
    int replicas = 1;
    // Updates and queries waiting for the worker: 262,144 (a few times the largest burst of
    // connects an instance takes, at ~200 bytes each); beyond it updates are dropped and the
    // next heartbeat writes every local entry again.
    std::size_t max_queued_jobs = 262'144;
    // How often delete markers and expired shared state are purged from the bucket: 5 min
    // keeps listings free of old markers at the cost of one listing of the deployment's keys.
    std::chrono::milliseconds sweep_interval{300'000};
    // One KV request: 2 s, cnats' JetStream default, so a dead server shows within a heartbeat.
    std::chrono::milliseconds request_timeout{2'000};
};

// Costs: a connect or disconnect is one read and one compare-and-set of the user's record,
// batched with the others queued (one pipelined round of each per batch of up to 512), and one
// pipelined write of the instance's index; a join or leave is two pipelined writes. A query
// reads one record (a user's connections, is_online) or lists one key range (online users,
// group members: every key of the range per page). Crash safety: as the Redis store
// (docs/presence.md); an instance that was taken for dead, or whose bucket was lost, continues
// under a new incarnation and writes every local entry again from the mirror it keeps.
// Threading: methods may be called from any thread; they update the mirror (under a mutex,
// never across I/O) and queue work for the worker, which posts callbacks to `context`.
class nats_store final : public store {
public:
    nats_store(boost::asio::io_context& context, nats_store_options nats, store_options options);
    ~nats_store() override;
    nats_store(const nats_store&) = delete;
    nats_store& operator=(const nats_store&) = delete;

    void start(change_handler on_change) override;
    // Joins the worker; waits at most for the KV call in progress (closing the connection
    // ends it).
    void stop() override;

    void connection_added(std::string_view hub, const connection_entry& entry) override;
    void connection_removed(std::string_view hub, std::string_view connection_id,
                            std::string_view user_id) override;
    void group_joined(std::string_view hub, std::string_view connection_id,
                      std::string_view user_id, std::string_view group) override;
    void group_left(std::string_view hub, std::string_view connection_id,
                    std::string_view group) override;

    void online_users(std::string_view hub, std::string cursor, std::size_t limit,
                      page_callback<std::string> done) override;
    void user_connections(std::string_view hub, std::string_view user_id, std::string cursor,
                          std::size_t limit, page_callback<connection_entry> done) override;
    void group_members(std::string_view hub, std::string_view group, std::string cursor,
                       std::size_t limit, page_callback<connection_entry> done) override;
    void is_online(std::string_view hub, std::string_view user_id,
                   std::function<void(expected<bool>)> done) override;

    void state_get(std::string key, value_callback done) override;
    void state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                   std::function<void(expected<void>)> done) override;
    void state_erase(std::string key, flag_callback done) override;
    void state_compare_and_set(std::string key, std::optional<std::string> expected,
                               std::string value, std::chrono::milliseconds ttl,
                               flag_callback done) override;

    [[nodiscard]] bool connected() const override;

    class worker;

private:
    std::shared_ptr<worker> worker_;
};

}  // namespace switchboard::presence::nats
