// Durable mode's bus on one Redis server: every publication is an entry of one stream per
// cluster (XADD, exactly once per publication), read back by every instance in one order (XREAD
// BLOCK), plus small records (SET PX / GET / a compare-and-set script / DEL). Both
// routing::backplane and routing::durable_log.
#pragma once

#include "routing/backplane.hpp"
#include "routing/durable_log.hpp"
#include "routing/redis/redis_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct redisReply;  // hiredis

namespace switchboard::routing::redis {

struct stream_options {
    // Both clients are built from it; their subscribe connections stay idle.
    client_options client;
    // This instance's router_options::server_name: the origin field of its entries.
    std::string server_name;
    // The connection string's channelPrefix, as the other Redis keys take it.
    std::string key_prefix;
    // --durable-window: XADD trims entries older than this (MINID ~).
    std::chrono::milliseconds window{std::chrono::minutes(5)};
    // --durable-max-entries: also XTRIM MAXLEN ~ this every trim_interval; 0 keeps no cap.
    std::size_t max_entries = 0;
    // --durable-max-bytes: also trims to the entries this many bytes hold, at the average size
    // of the newest hundred (approximate, as MAXLEN ~ is); 0 keeps no byte bound.
    std::size_t max_bytes = 0;
    // XREAD BLOCK: well under two health-check intervals (10 s), so the PING queued behind a
    // blocked read is answered in time; 1 s also bounds how late a stop takes effect on Redis.
    std::chrono::milliseconds block{1000};
    // Entries per XREAD: 512 keeps a reply in the hundreds of KiB for chat-sized payloads
    // while a backlog after an outage is read in a few round trips per second's traffic.
    std::size_t read_batch = 512;
    // How often MAXLEN is enforced: once a second costs nothing and overshoots by at most a
    // second's publications.
    std::chrono::milliseconds trim_interval{1000};
};

// Reading: one XREAD loop on a client of its own (a blocked connection runs nothing else),
// each round pipelined after an XINFO STREAM that checks no entry was lost since the last
// (see check_info). Entries go to the observer in stream order, own ones included, then, from
// other instances on subscribed channels, to the handler: the stream carries every channel,
// so subscriptions are local reference counts and in effect for every entry not read yet.
// After the read connection comes back, reading continues from position(): what the others
// published meanwhile arrives late but is not lost, within the window.
// Writing: a script that XADDs, and the record commands, on the other client, whose bounded
// queue holds an instance's publications while Redis is away and sends them in order once it
// is back. Appends lost with a connection are sent again and land exactly once, in the
// instance's order (append_script in the .cpp): a Redis restart with persistence loses none.
// Threading: both clients and all state live on `context` (the control shard); the backplane
// methods may be called from any shard and are dispatched there; the durable_log methods are
// called there. Callbacks run there.
class stream_backplane final : public backplane, public durable_log {
public:
    // Throws std::invalid_argument for options the clients cannot honour (startup only).
    stream_backplane(boost::asio::io_context& context, stream_options options);
    ~stream_backplane() override;
    stream_backplane(const stream_backplane&) = delete;
    stream_backplane& operator=(const stream_backplane&) = delete;

    // backplane
    void start(backplane_handler& handler) override;
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    // Both connections up and the reader's starting point known.
    [[nodiscard]] bool connected() const override {
        return connected_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t dropped_publications() const override {
        return dropped_.load(std::memory_order_relaxed);
    }
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
    [[nodiscard]] std::size_t buffered_bytes() const override { return writer_->queued_bytes(); }

    // durable_log
    void set_observer(log_observer* observer) override { observer_ = observer; }
    [[nodiscard]] const std::string& position() const override { return position_; }
    [[nodiscard]] std::chrono::milliseconds window() const override { return options_.window; }
    void read_after(const std::string& after, std::size_t count, read_handler done) override;
    void put_record(const std::string& key, std::string value,
                    std::chrono::milliseconds ttl) override;
    void get_record(const std::string& key, get_handler done) override;
    void compare_and_set_record(const std::string& key, std::string expected, std::string desired,
                                std::chrono::milliseconds ttl, swap_handler done) override;
    void erase_record(const std::string& key) override;

    // The Redis keys, for tests and operators.
    [[nodiscard]] const std::string& log_key() const noexcept { return log_key_; }
    [[nodiscard]] std::string record_key(std::string_view key) const;

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    // What XINFO STREAM tells the reader.
    struct stream_state {
        bool exists = false;
        std::string first_entry;               // empty: none
        std::string last_entry;                // empty: none
        std::optional<std::uint64_t> added;    // entries-added (Redis 7.0+)
        std::optional<std::uint64_t> removed;  // entries-added - length (Redis 7.0+)
    };

    // A publication on its way into the log, numbered per writer (see append_script).
    struct pending_append {
        std::uint64_t sequence = 0;
        int attempts = 1;
        std::string channel;
        shared_buffer payload;
    };

    template <class F>
    void run(F f);
    void publish_here(const std::string& channel, const shared_buffer& payload);
    // False when the write queue is full.
    bool send_append(const pending_append& append, bool by_text);
    void on_appended(pending_append append, const redisReply* reply);
    // The lowest sequence not settled yet, or `sequence` when every earlier one is.
    [[nodiscard]] std::uint64_t lowest_outstanding(std::uint64_t sequence) const noexcept;
    void settle(std::uint64_t sequence);
    void count_drop();
    void on_state();
    void do_round();
    void on_info(const redisReply* reply);
    void on_entries(const redisReply* reply);
    [[nodiscard]] bool lost_entries(const stream_state& state) const;
    void resync(const stream_state& state);
    void retry_later();
    void do_trim();
    // Posted, never inline: the caller's stack may hold its own state.
    template <class Handler, class Value>
    void answer(Handler done, Value value);

    boost::asio::io_context& context_;
    stream_options options_;
    std::string log_key_;
    std::string record_prefix_;
    std::string writer_key_;  // the last sequence this writer appended, for the order rule
    std::unique_ptr<redis_client> writer_;
    std::unique_ptr<redis_client> reader_;
    boost::asio::steady_timer trim_timer_;
    boost::asio::steady_timer retry_timer_;
    backplane_handler* handler_ = nullptr;
    log_observer* observer_ = nullptr;
    // Until stop(): publications made before start() wait in the write client's queue.
    bool stopped_ = false;
    std::unordered_map<std::string, int, string_hash, std::equal_to<>> subscriptions_;

    // Reader: the id reading continues after, and the entries-added ordinal of that entry
    // (the count of entries the stream had when it was added) while Redis counts them.
    std::string position_ = "0-0";
    std::optional<std::uint64_t> ordinal_;
    bool synced_ = false;        // the starting point is known (the first XINFO answered)
    bool discard_read_ = false;  // the XREAD in flight started from a position given up
    bool reading_ = false;       // a round is in flight

    // Writer: the last sequence given out, and whether each from the lowest unsettled one on
    // is still outstanding (front: next_sequence_ + 1 - size()).
    std::uint64_t next_sequence_ = 0;
    std::deque<bool> outstanding_;
    // Writer: appends queued (not dropped), settled (answered or given up), and refused.
    std::uint64_t accepted_ = 0;
    std::uint64_t answered_ = 0;
    std::uint64_t refused_ = 0;
    std::uint64_t drops_since_log_ = 0;
    std::chrono::steady_clock::time_point last_drop_log_{};

    std::atomic<bool> connected_{false};
    bool was_up_ = false;
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> rejected_{0};
    // A timer wait that completed before stop() cancelled it still runs its handler: it
    // checks this first, since the bus may be gone by then.
    std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchboard::routing::redis
