// Durable mode's bus on PostgreSQL: every publication is a row of one log table per cluster,
// numbered without gaps in commit order, read back by every instance in that order, plus small
// records with compare-and-set. Both routing::backplane and routing::durable_log.
#pragma once

#include "routing/backplane.hpp"
#include "routing/durable_log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

// libpq's result, declared here so that users of this header need no libpq headers.
struct pg_result;

namespace switchboard::routing::postgres {

class pg_connection;

struct log_options {
    std::string conninfo;  // libpq conninfo or URL (connection_string.hpp renders one)
    // 15 s: Npgsql's `Timeout` default (connection_string.hpp).
    std::chrono::milliseconds connect_timeout{15'000};
    // --postgres-schema: where the log, its counter and the records live.
    std::string schema = "signalr";
    // This instance's router_options::server_name: the origin of its entries.
    std::string server_name;
    // --durable-window: entries older than this are trimmed.
    std::chrono::milliseconds window{std::chrono::minutes(5)};
    // --durable-max-entries: entries beyond this many are trimmed too; 0 keeps no cap.
    std::size_t max_entries = 0;
    // --durable-max-bytes: entries beyond what this many bytes hold, at the average size of
    // the newest thousand, are trimmed too; 0 keeps no byte bound.
    std::size_t max_bytes = 0;
    // Publications queued while down or behind a batch in flight, and in flight, in bytes.
    std::size_t max_buffered_bytes = 16 * 1024 * 1024;
    // The other buses' reconnect range: a restart is retried at once, an outage every few s.
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds max_backoff{5'000};
    // Entries per read: a page of chat-sized payloads stays in the hundreds of KiB while a
    // backlog after an outage is read in a few round trips per second's traffic.
    std::size_t read_batch = 512;
    // Readers are woken by NOTIFY; this poll only covers a wake-up that never came (a
    // notification lost with a session), so a second's delay at worst is fine.
    std::chrono::milliseconds poll_interval{1000};
    // How often each instance trims the log and deletes expired records: twice a second
    // overshoots the window and the cap by half a second's publications at most, with two
    // indexed DELETEs.
    std::chrono::milliseconds trim_interval{500};
    // Appends per pipeline batch (one transaction): bounds how long the counter's row lock is
    // held while a burst still costs one round trip per thousand messages.
    std::size_t max_batch_messages = 1024;
};

// Tables, in the schema: "switchboard_log" (id bigint, at timestamptz, origin text, channel
// bytea, payload bytea), its one-row counter "switchboard_log_counter", each writer's last
// batch "switchboard_log_writers" (writer text, batch bigint, at timestamptz), and
// "switchboard_records" (key text, value text, expires_at timestamptz). Channel names are
// bytea: logical names are any bytes, which a text column (UTF-8, no NUL) would refuse.
//
// Order: an append takes its id from the counter row with UPDATE ... RETURNING in the same
// statement as the INSERT (log_backplane.cpp). The row lock serializes appending transactions,
// so ids are consecutive and become visible in id order: a reader that saw id n has seen every
// id before it, and a missing id can only mean trimmed entries (a gap), never a late commit.
//
// Reading: one session LISTENs (every append batch NOTIFYs) and reads pages after position();
// a poll covers lost wake-ups. After the session comes back, reading continues from position():
// what the others published meanwhile arrives late but is not lost, within the window.
// Writing: appends (pipelined batches) and the record statements on a second session, whose
// bounded queue holds an instance's publications while PostgreSQL is away and sends them in
// order once it is back. A batch whose answer was lost with the session is checked on the
// next one (its writer mark, written in the same transaction) and sent again only if it did
// not commit: appends are exactly once across session losses and server restarts.
// Threading: the sessions and all state live on `context` (the control shard); the backplane
// methods may be called from any shard and are dispatched there; the durable_log methods are
// called there. Callbacks run there.
class log_backplane final : public backplane, public durable_log {
public:
    log_backplane(boost::asio::io_context& context, log_options options);
    ~log_backplane() override;
    log_backplane(const log_backplane&) = delete;
    log_backplane& operator=(const log_backplane&) = delete;

    // backplane
    void start(backplane_handler& handler) override;
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    [[nodiscard]] bool connected() const override {
        return connected_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t dropped_publications() const override {
        return dropped_.load(std::memory_order_relaxed);
    }
    // Queued, plus sent and not answered (a batch whose answer was lost with its session
    // counts until the next session found out whether it committed).
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override {
        return accepted_ - answered_;
    }
    [[nodiscard]] std::uint64_t refused_publications() const override { return refused_; }
    [[nodiscard]] std::uint64_t rejected_messages() const override {
        return rejected_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t reconnects() const override {
        return reconnects_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::size_t buffered_bytes() const override { return buffered_bytes_; }

    // durable_log
    void set_observer(log_observer* observer) override { observer_ = observer; }
    // "<id>" once the reader found its starting point ("0-0" before).
    [[nodiscard]] const std::string& position() const override { return position_; }
    [[nodiscard]] std::chrono::milliseconds window() const override { return options_.window; }
    void read_after(const std::string& after, std::size_t count, read_handler done) override;
    void put_record(const std::string& key, std::string value,
                    std::chrono::milliseconds ttl) override;
    void get_record(const std::string& key, get_handler done) override;
    void compare_and_set_record(const std::string& key, std::string expected, std::string desired,
                                std::chrono::milliseconds ttl, swap_handler done) override;
    void erase_record(const std::string& key) override;

    // The quoted table names, for tests and operators.
    [[nodiscard]] const std::string& log_table() const noexcept { return log_table_; }
    [[nodiscard]] const std::string& records_table() const noexcept { return records_table_; }
    // The sessions' server processes (for tests that cut them); 0 while down.
    [[nodiscard]] int reader_pid() const noexcept;
    [[nodiscard]] int writer_pid() const noexcept;

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    struct outgoing {
        std::string channel;
        shared_buffer payload;
        std::size_t cost = 0;
    };
    // What one page read says: the counter when the page began, and the page.
    struct page {
        bool ok = false;
        std::string error;
        std::int64_t last_id = -1;
        std::vector<std::pair<std::int64_t, log_entry>> entries;
    };
    using page_handler = std::function<void(page)>;

    template <class F>
    void run(F f);
    template <class Handler, class Value>
    void answer(Handler done, Value value);
    void publish_here(const std::string& channel, shared_buffer payload);
    void flush_publications();
    void release_in_flight();
    void resolve_in_doubt();
    void count_drop();
    void update_connected();

    void on_writer_up();
    void on_writer_down(std::string_view reason, bool was_up);
    void on_reader_up();
    void on_reader_down(std::string_view reason, bool was_up);
    // A session that can run a statement now: `preferred` or else the other; null when none.
    [[nodiscard]] pg_connection* usable(pg_connection* preferred) const;
    bool send_record(const char* sql, std::vector<std::string> values,
                     std::function<void(const pg_result*)> done);

    void request_read();
    void do_read();
    void on_page(page p);
    void read_page(pg_connection& session, std::int64_t after, std::size_t count,
                   page_handler done);
    void schedule_poll();
    void schedule_trim();
    void trim();

    boost::asio::io_context& context_;
    log_options options_;
    std::string log_table_;
    std::string counter_table_;
    std::string records_table_;
    std::string writers_table_;
    std::string writer_key_;
    std::string notify_channel_;  // quoted
    std::string append_sql_;
    std::string notify_sql_;
    std::string create_mark_sql_;
    std::string mark_batch_sql_;
    std::string read_mark_sql_;
    std::string read_counter_sql_;
    std::string read_sql_;
    std::shared_ptr<pg_connection> writer_;
    std::shared_ptr<pg_connection> reader_;
    boost::asio::steady_timer poll_timer_;
    boost::asio::steady_timer trim_timer_;
    backplane_handler* handler_ = nullptr;
    log_observer* observer_ = nullptr;
    bool stopped_ = false;  // publications made before start() wait in the queue
    std::unordered_map<std::string, int, string_hash, std::equal_to<>> subscriptions_;

    // Reader: the id of the last entry handed on; known once the first page was read.
    std::string position_ = "0-0";
    std::int64_t last_id_ = 0;
    bool synced_ = false;
    bool reading_ = false;     // a page read is in flight
    bool read_again_ = false;  // woken while reading: read once more right after
    // when_subscribed calls made before the starting point was known.
    std::vector<std::function<void()>> sync_waiters_;

    // Writer.
    bool writer_ready_ = false;  // schema and statements ready on the current session
    std::deque<outgoing> queue_;
    // The batch sent last, until it is answered; kept when its answer was lost (in doubt) until
    // a later session finds out whether it committed.
    std::deque<outgoing> in_flight_;
    std::size_t buffered_bytes_ = 0;  // queued and in flight
    std::uint64_t batch_seq_ = 0;     // of the last batch sent
    bool batch_in_flight_ = false;
    bool in_doubt_ = false;
    std::uint64_t accepted_ = 0;
    std::uint64_t answered_ = 0;
    std::uint64_t refused_ = 0;
    std::uint64_t drops_since_log_ = 0;
    std::chrono::steady_clock::time_point last_drop_log_{};
    std::chrono::steady_clock::time_point last_error_log_{};

    std::atomic<bool> connected_{false};
    bool was_up_ = false;
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace switchboard::routing::postgres
