// Presence on Redis for many instances (presence_scripts.hpp has the layout): one Lua script
// per update or query on a connection of its own, a heartbeat that also reaps dead instances.
#pragma once

#include "presence/presence_store.hpp"
#include "routing/redis/pubsub_client.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

struct redisReply;

namespace switchboard::presence::redis {

struct script;

// Costs: a connect, disconnect, join or leave is one EVALSHA, pipelined with the others on the
// store's connection (thousands arriving at once share writes); a query is one EVALSHA whose
// work is bounded by its page (SCAN COUNT) and each entry's liveness check (one ZSCORE per
// instance per call). A page holds about `limit` entries: Redis hands small sets over whole.
// Crash safety: the heartbeat keeps this incarnation live; entries of an incarnation silent
// for `expiry` leave every query at once, and live instances delete them (a bounded batch per
// heartbeat) and report their users offline. If this instance was itself taken for dead (a
// stall or partition longer than `expiry`), its next heartbeat says so and it writes every
// local entry again from the mirror it keeps.
// Threading: everything runs on `context` (the control shard); callers on other shards post
// there. No locks.
class redis_store final : public store {
public:
    redis_store(boost::asio::io_context& context, routing::redis::client_options client,
                store_options options);
    ~redis_store() override;
    redis_store(const redis_store&) = delete;
    redis_store& operator=(const redis_store&) = delete;

    void start(change_handler on_change) override;
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

    [[nodiscard]] bool connected() const override {
        return connected_.load(std::memory_order_relaxed);
    }

private:
    using reply_handler = std::function<void(const redisReply* reply)>;
    // This instance's connections, to write them again after it was taken for dead.
    struct local_connection {
        std::string hub;
        std::string connection_id;
        std::string user_id;
        std::uint64_t connected_at_ms = 0;
        std::set<std::string> groups;
    };

    // A connection of this instance whose last write has an unknown outcome (no reply: the
    // connection broke with it in flight, or the queue was full). The next heartbeat Redis
    // answers settles it from the mirror; the groups it left meanwhile are kept here, since
    // the mirror no longer names them.
    struct unsettled_connection {
        std::string hub;
        std::string user_id;
        std::set<std::string> groups_left;
    };

    // EVALSHA, and EVAL once when the server does not know the script. The handler gets
    // nullptr when the command could not be sent or the connection broke.
    void run_script(const script& which, std::vector<std::string> arguments, reply_handler handler);
    void write_connection(const local_connection& entry);
    void write_group(const local_connection& entry, const std::string& group);
    void send_remove(const std::string& hub, const std::string& id, const std::string& user);
    void send_leave(const std::string& hub, const std::string& id, const std::string& group);
    void unsettle(const std::string& hub, const std::string& id, const std::string& user,
                  const std::string* group_left = nullptr);
    // Writes every unsettled connection as the mirror has it now: idempotent, so a write
    // that did arrive before its reply was lost is harmless.
    void settle();
    void heartbeat();
    // After a connect: SCRIPT LOAD for every script; until all are answered, scripts go out as
    // EVAL (which caches them too), so that no NOSCRIPT retry can reorder commands.
    void load_scripts();
    void schedule_heartbeat();
    void entries_query(std::string key, std::string user, bool group, std::string cursor,
                       std::size_t limit, page_callback<connection_entry> done);
    void report(user_change change);
    // Sends a plain command from any thread; the handler runs on the store's shard (nullptr:
    // not sent, or the connection broke).
    void command(std::vector<std::string> arguments, reply_handler handler);
    [[nodiscard]] std::string state_key(const std::string& key) const {
        return base_ + "state:" + key;
    }
    [[nodiscard]] std::string expiry_ms() const;

    boost::asio::io_context& context_;
    std::unique_ptr<routing::redis::pubsub_client> client_;
    store_options options_;
    std::string base_;
    change_handler on_change_;
    boost::asio::steady_timer heartbeat_timer_;
    bool running_ = false;
    bool scripts_loaded_ = false;
    std::uint64_t connects_ = 0;  // tells a late SCRIPT LOAD answer from a current one
    // The first heartbeat precedes every write of this incarnation: nothing to write again.
    bool announced_ = false;
    std::map<std::string, local_connection> local_;          // by connection id
    std::map<std::string, unsettled_connection> unsettled_;  // by connection id
    std::atomic<bool> connected_{false};
};

}  // namespace switchboard::presence::redis
