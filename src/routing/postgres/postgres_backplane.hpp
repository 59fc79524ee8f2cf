// The PostgreSQL backplane: the bus contract (backplane.hpp) over LISTEN/NOTIFY, one session
// listening and one publishing in pipeline mode, large payloads through a table.
#pragma once

#include "routing/backplane.hpp"
#include "routing/postgres/notify_payload.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

// libpq's notification (PGnotify), declared here so that users of this header need no libpq
// headers.
struct pgNotify;

namespace switchboard::routing::postgres {

class pg_connection;

struct backplane_options {
    std::string conninfo;  // libpq conninfo or URL (connection_string.hpp renders one)
    // 15 s: Npgsql's `Timeout` default (connection_string.hpp).
    std::chrono::milliseconds connect_timeout{15'000};
    // --postgres-schema: where the payload tables (one per hub) live.
    std::string schema = "signalr";
    // Publications queued while down or behind a batch in flight, and in flight, in bytes.
    std::size_t max_buffered_bytes = 16 * 1024 * 1024;
    // The Redis bus's reconnect range: a restart is retried at once, an outage every few s.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5'000};
    // After an outage, buffered publications wait this long (plus the backoff spread) so the
    // other instances' listeners, which reconnect on their own schedules, LISTEN again first.
    std::chrono::milliseconds resume_delay{500};
    // Payloads above this go through the table (test seam; the default is the largest that
    // fits a NOTIFY: notify_payload.hpp).
    std::size_t max_inline_bytes = postgres::max_inline_bytes();
    // Rows live 5 min: receivers fetch them within milliseconds of the NOTIFY (seconds behind a
    // backlog); older than that, a message is no longer worth delivering. PostgreSignalR's TTL.
    std::chrono::milliseconds payload_ttl{300'000};
    // Every instance deletes expired rows this often (one indexed DELETE: cheap).
    std::chrono::milliseconds cleanup_interval{30'000};
    // Statements per pipeline batch: bounds one transaction while a burst still costs one
    // round trip per thousand messages.
    std::size_t max_batch_messages = 1024;
    // A previous publisher session's NOTIFYs may still be queued for our listener after a
    // reconnect: its backend PID stays "ours" this long.
    std::chrono::seconds own_pid_memory{60};
};

// Counters for tests and logs; any thread.
struct backplane_statistics {
    std::uint64_t published = 0;         // NOTIFYs the server confirmed
    std::uint64_t publish_errors = 0;    // statements that failed or were lost in flight
    std::uint64_t echoes_dropped = 0;    // own NOTIFYs (by backend PID)
    std::uint64_t malformed = 0;         // NOTIFY payloads not in our format
    std::uint64_t missing_payloads = 0;  // referenced rows not found (or fetch failed)
    std::uint64_t received = 0;          // delivered to the handler
    int sessions_up = 0;                 // of the two (listening, publishing)
};

// Channel names: bounded_channel_codec (63-byte identifiers); incoming names are resolved
// through the subscription table, since digests cannot be inverted. Own publications: NOTIFY
// reaches our own listener too; PGnotify::be_pid names the sending backend, so notifications
// from our publisher sessions are dropped exactly (no payload matching). Two limits: a PID the
// server reuses for another instance's publisher within own_pid_memory would hide its
// messages (PIDs cycle through tens of thousands first), and a pooler that rewrites backend
// keys (PgBouncer) breaks it, as its transaction mode breaks LISTEN anyway: connect directly.
//
// Payload tables: one per hub, "<schema>"."<hub in lowercase>_payloads" (payload_table.hpp), as
// the ASP.NET Npgsql backplane names its tables; created by the first instance that publishes a
// message too large for a NOTIFY on that hub, cleaned by every instance that wrote to it.
//
// Threading: the sessions and all state live on `context` (the control shard); the public
// methods may be called from any shard and are dispatched there.
class postgres_backplane final : public backplane {
public:
    postgres_backplane(boost::asio::io_context& context, backplane_options options);
    ~postgres_backplane() override;

    void start(backplane_handler& handler) override;
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    // `then` runs on the control shard, once the LISTEN is acknowledged (or at once while the
    // listening session is down).
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    [[nodiscard]] const channel_codec& codec() const noexcept override { return codec_; }
    [[nodiscard]] bool connected() const override { return connected_; }
    // Control shard: publications queued, plus one for a batch PostgreSQL has not answered
    // (its size is tracked in bytes only); what a publisher's flush waits for.
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override {
        return queue_.size() + (batch_in_flight_ ? 1 : 0);
    }
    [[nodiscard]] std::size_t buffered_bytes() const override { return buffered_bytes_; }
    [[nodiscard]] std::uint64_t reconnects() const override {
        return reconnects_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t dropped_publications() const override {
        return dropped_.load(std::memory_order_relaxed);
    }

    [[nodiscard]] std::uint64_t rejected_messages() const override {
        return malformed_.load(std::memory_order_relaxed) +
               missing_.load(std::memory_order_relaxed);
    }

    [[nodiscard]] backplane_statistics statistics() const;

private:
    using clock = std::chrono::steady_clock;
    struct channel_state {
        std::string logical;
        int subscriptions = 0;
        bool listening = false;    // LISTEN acknowledged on the current session
        std::uint64_t serial = 0;  // of the last LISTEN sent, matched by its acknowledgement
        std::vector<std::function<void()>> waiters;
    };
    struct payload_table {
        std::string quoted;  // "schema"."table"
        std::string insert_sql;
        std::string fetch_sql;
        std::string cleanup_sql;
        std::string create_sql;  // IF NOT EXISTS, as its index
        std::string index_sql;
        // Its CREATE was sent on the current publishing session: the pipeline runs it before
        // any INSERT sent after it.
        bool ensured = false;
        bool failed = false;  // the CREATE failed on this session: no payload goes there
        bool used = false;    // this instance publishes there: it creates and cleans it
    };
    struct outgoing {
        std::string channel;  // bus name
        shared_buffer payload;
        std::size_t cost = 0;
        payload_table* table = nullptr;  // a payload too large for a NOTIFY goes there
    };
    // Received, in arrival order; a referenced payload holds back what came after it.
    struct delivery {
        std::string channel;  // logical name
        shared_buffer payload;
        bool fetching = false;
    };
    // One warning per second at most per kind: an outage or a flood must not flood the log.
    struct rate_limited {
        std::uint64_t since_log = 0;
        clock::time_point last{};
        bool due(clock::time_point now);
    };

    template <class F>
    void run(F f);
    void publish_here(const std::string& channel, shared_buffer payload);
    void schedule_flush();
    void flush_publications();
    void count_drop();
    void update_connected();

    void on_publisher_up();
    void on_publisher_down(std::string_view reason, bool was_up);
    void initialize_schema();
    void prepare_statements();
    void cleanup();
    void schedule_cleanup();

    void on_listener_up();
    void on_listener_down(std::string_view reason, bool was_up);
    void send_listen(const std::string& bus_name, channel_state& state);
    void release_waiters(channel_state& state);
    void on_notify(const pgNotify& notify);
    void fetch(const std::string& logical, std::int64_t row_id, std::uint64_t index);
    payload_table& table_for(std::string_view logical_channel);
    void ensure_table(payload_table& table);
    void drain_deliveries();
    [[nodiscard]] bool is_own_pid(int pid);

    boost::asio::io_context& context_;
    backplane_options options_;
    bounded_channel_codec codec_;
    // By table name; entries live until stop() (outgoing::table points into it). Bounded by
    // the hubs this instance publishes or listens to.
    std::unordered_map<std::string, payload_table> tables_;
    std::shared_ptr<pg_connection> listener_;
    std::shared_ptr<pg_connection> publisher_;
    boost::asio::steady_timer resume_timer_;
    boost::asio::steady_timer cleanup_timer_;
    backplane_handler* handler_ = nullptr;
    bool started_ = false;
    bool unreachable_reported_ = false;

    // Listening side.
    std::unordered_map<std::string, channel_state> channels_;  // by bus name
    std::uint64_t listen_serial_ = 0;
    std::deque<delivery> deliveries_;
    std::uint64_t first_delivery_index_ = 0;  // index of deliveries_.front()

    // Publishing side.
    std::deque<outgoing> queue_;
    std::size_t buffered_bytes_ = 0;  // queued and in flight
    bool batch_in_flight_ = false;
    bool flush_scheduled_ = false;
    bool publisher_prepared_ = false;  // statements prepared on the current session
    bool publisher_ready_ = false;     // statements prepared, resume delay over
    bool schema_ready_ = false;        // the schema exists (created once per process)
    bool cleanup_scheduled_ = false;   // also: a first session was ready (no resume delay)
    std::uint64_t seq_ = 0;
    // Backend PIDs of our publisher sessions: the current one (time_point::max()) and
    // previous ones until their expiry.
    std::vector<std::pair<int, clock::time_point>> own_pids_;

    std::atomic<bool> connected_{false};
    bool was_up_ = false;  // connected at least once: the next connect is a reconnect
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<int> sessions_up_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> published_{0};
    std::atomic<std::uint64_t> publish_errors_{0};
    std::atomic<std::uint64_t> echoes_dropped_{0};
    std::atomic<std::uint64_t> malformed_{0};
    std::atomic<std::uint64_t> missing_{0};
    std::atomic<std::uint64_t> received_{0};
    rate_limited drop_log_;
    rate_limited error_log_;
    rate_limited receive_log_;
};

}  // namespace switchboard::routing::postgres
