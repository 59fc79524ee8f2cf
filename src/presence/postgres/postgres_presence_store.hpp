// Presence on PostgreSQL for instances on the PostgreSQL backplane (presence_sql.hpp has the
// layout): one function call per update or query on a libpq session of its own, a heartbeat
// that also reaps dead instances.
#pragma once

#include "presence/postgres/presence_sql.hpp"
#include "presence/presence_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

struct pg_result;  // libpq's PGresult

namespace switchboard::routing::postgres {
class pg_connection;
}

namespace switchboard::presence::postgres {

struct connection_options {
    std::string conninfo;  // libpq conninfo or URL (routing/postgres/connection_string.hpp)
    // 15 s: Npgsql's `Timeout` default, as the backplane's.
    std::chrono::milliseconds connect_timeout{15'000};
    // --postgres-schema: the backplane's schema; the presence tables live beside its tables.
    std::string schema = "signalr";
    // The backplane's reconnect range: a restart is retried at once, an outage every few s.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5'000};
};

// Costs: connects and disconnects go out in batches (one function call for up to max_batch,
// each its own transaction: its own Sync), pipelined with the others on the store's session, so
// thousands arriving at once share statements, writes and round trips; a join or leave is one
// statement. Every transaction that takes several user locks takes them in key order: instances
// never deadlock. A query is one statement whose work is bounded by its page (a keyset LIMIT
// on an index) and one liveness probe per entry.
// Crash safety: as the Redis store's. The heartbeat keeps this incarnation live; entries of an
// incarnation silent for `expiry` leave every query at once, and live instances delete them (a
// bounded batch per call) and report their users offline. Writes are mirrored locally: one
// that was lost (session down, statement failed, this instance not live) is written again
// after the next heartbeat, and all are when the heartbeat finds this instance missing
// (taken for dead, or the database lost the rows). Removals that were lost are retried, at
// most `max_retries` of them.
// Threading: everything runs on `context` (the control shard); callers on other shards post
// there. No locks.
class postgres_store final : public store {
public:
    postgres_store(boost::asio::io_context& context, connection_options connection,
                   store_options options);
    ~postgres_store() override;
    postgres_store(const postgres_store&) = delete;
    postgres_store& operator=(const postgres_store&) = delete;

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

    // Removals and leaves waiting to be retried, at most: beyond it they are dropped (logged):
    // their entries then stay until this incarnation ends. Each is a few dozen bytes.
    static constexpr std::size_t max_retries = 65'536;
    // Operations waiting for a session (the first, or the next after a loss), in order, at
    // most: beyond it updates are written after the next heartbeat instead and queries fail.
    static constexpr std::size_t max_waiting = 16'384;
    // Entries per connect or disconnect statement: a burst costs one statement per 128, while
    // one transaction holds at most 128 advisory locks (the server's lock table is shared:
    // 64 per connection by default).
    static constexpr std::size_t max_batch = 128;

private:
    class statement;
    struct local_connection {
        std::string hub;
        std::string user_id;
        std::uint64_t connected_at_ms = 0;
        std::set<std::string> groups;
        std::uint64_t written = 0;  // write_serial_ when last sent
    };
    // A removal (group empty) or a leave to send again.
    using retry_key = std::tuple<std::string, std::string, std::string>;  // hub, connection, group

    void on_up();
    void on_down(std::string_view reason, bool was_up);
    void send_setup();
    void heartbeat();
    void reap();
    void schedule_heartbeat();
    void write_again(bool everything, std::uint64_t before);
    void write_connection(const std::string& id, local_connection& entry);
    void write_group(const std::string& id, const std::string& hub, const std::string& user,
                     std::uint64_t connected_at_ms, const std::string& group);
    // Connects and disconnects go out in batches (one statement for up to max_batch), sent at
    // the end of the loop's turn or when full; at most one of the two batches is non-empty,
    // so their order is kept.
    struct pending_remove {
        std::string hub;
        std::string id;
        std::string user;
    };
    void queue_remove(const std::string& hub, const std::string& id, const std::string& user);
    void batch_added();
    void flush_batches();
    void send_adds(std::vector<std::string> ids);
    void send_removes(std::vector<pending_remove> items);
    void send_leave(const std::string& hub, const std::string& id, const std::string& group);
    void retry_later(retry_key key, std::string user);
    // Runs `operation(true)` now while the session is up, else once it is (after the session's
    // setup and heartbeat), or `operation(false)` when it failed or too many wait.
    void submit(std::function<void(bool up)> operation);
    // A query: `handler` gets the result, or nullptr when it could not be answered.
    void query(const std::string& sql, statement params,
               std::function<void(const pg_result*)> handler);
    // Sends one statement and its Sync; false (the handler never runs) while the session is
    // down. The handler gets nullptr when the session broke first.
    // After the pending batches (`send`), after a pending removal batch only
    // (`send_after_removes`: joins and leaves), or at once (`send_now`).
    bool send(const std::string& sql, statement& params,
              std::function<void(const pg_result*)> handler);
    bool send_after_removes(const std::string& sql, statement& params,
                            std::function<void(const pg_result*)> handler);
    bool send_now(const std::string& sql, statement& params,
                  std::function<void(const pg_result*)> handler);
    void report(const user_change& change);
    void warn(std::string_view what, const pg_result* result);

    boost::asio::io_context& context_;
    std::shared_ptr<routing::postgres::pg_connection> session_;
    store_options options_;
    presence_sql sql_;
    change_handler on_change_;
    boost::asio::steady_timer heartbeat_timer_;
    bool running_ = false;
    bool reaping_ = false;  // a reap is in flight: one at a time
    std::uint64_t write_serial_ = 0;
    std::map<std::string, local_connection> local_;  // by connection id
    std::set<std::string> dirty_;                    // local connections to write again
    std::map<retry_key, std::string> retries_;       // -> user (removals)
    std::deque<std::function<void(bool)>> waiting_;
    std::vector<std::string> add_batch_;  // connection ids (their entries are in local_)
    std::vector<pending_remove> remove_batch_;
    bool flush_posted_ = false;
    std::chrono::steady_clock::time_point last_warning_{};
    std::atomic<bool> connected_{false};
};

}  // namespace switchboard::presence::postgres
