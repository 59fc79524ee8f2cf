#include "routing/postgres/log_backplane.hpp"

#include "core/random.hpp"
#include "routing/postgres/identifier.hpp"
#include "routing/postgres/pg_connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace switchboard::routing::postgres {

namespace {

constexpr const char* append_statement = "switchboard_log_append";

// Every append batch NOTIFYs this channel; readers LISTEN to it. Not per schema: clusters
// sharing a database in different schemas only wake each other for a read that finds nothing.
constexpr const char* notify_channel = "switchboard_log";

// Serializes the DDL of instances starting together (CREATE ... IF NOT EXISTS still races on
// the catalogs): the PostgreSQL backplane's key ("SWBDPGS1"), as the two share a database.
constexpr const char* schema_lock_sql = "SELECT pg_advisory_xact_lock(6004234345505965873)";
// One instance trims at a time ("SWBDPGT1"): the others' DELETEs would only wait for its row
// locks and find nothing left.
constexpr const char* trim_lock_key = "6004234345505969201";

std::string_view value_of(const PGresult* result, int row, int column) {
    return {PQgetvalue(result, row, column),
            static_cast<std::size_t>(PQgetlength(result, row, column))};
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// An int8 in binary format: eight bytes, most significant first.
std::optional<std::int64_t> binary_int8(std::string_view bytes) {
    if (bytes.size() != 8) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (const char c : bytes) {
        value = (value << 8) | static_cast<unsigned char>(c);
    }
    return static_cast<std::int64_t>(value);
}

// A position as this log writes it ("<id>"), or as the interface spells the start ("0-0");
// "<id>-0" too, since compare_log_ids treats the two alike. nullopt otherwise.
std::optional<std::int64_t> parse_position(std::string_view position) {
    const auto dash = position.find('-');
    if (dash != std::string_view::npos) {
        if (position.substr(dash + 1) != "0") {
            return std::nullopt;
        }
        position = position.substr(0, dash);
    }
    auto id = parse_int(position);
    if (!id || *id < 0) {
        return std::nullopt;
    }
    return id;
}

std::string milliseconds_text(std::chrono::milliseconds ms) {
    return std::to_string(std::max<std::int64_t>(ms.count(), 1));
}

}  // namespace

log_backplane::log_backplane(boost::asio::io_context& context, log_options options)
    : context_(context),
      options_(std::move(options)),
      log_table_(quote_identifier(options_.schema) + ".\"switchboard_log\""),
      counter_table_(quote_identifier(options_.schema) + ".\"switchboard_log_counter\""),
      records_table_(quote_identifier(options_.schema) + ".\"switchboard_records\""),
      writers_table_(quote_identifier(options_.schema) + ".\"switchboard_log_writers\""),
      // Per process, not per server name: a name given with --server-name is reused by the
      // next run, whose batch numbers start again at 1.
      writer_key_(options_.server_name + "#" + make_random_id()),
      poll_timer_(context),
      trim_timer_(context) {
    // The id comes from the counter row in the same statement as the INSERT: the UPDATE holds
    // the row's lock until the batch's transaction commits, so the next appender waits and then
    // reads the committed value. Ids are consecutive (a rolled back append rolls the counter
    // back too) and commit in id order. A bigserial would not do: a transaction holding a
    // smaller id may commit after one holding a larger id, and a reader that moved past the
    // larger one would skip it forever. (pg_advisory_xact_lock would serialize as well, but the
    // row lock also keeps the counter and the log consistent through crashes and rollbacks.)
    append_sql_ = "WITH n AS (UPDATE " + counter_table_ +
                  " SET last_id = last_id + 1 RETURNING last_id) INSERT INTO " + log_table_ +
                  " (id, origin, channel, payload) SELECT last_id, $1::text, $2::bytea, $3::bytea "
                  "FROM n";
    notify_sql_ = std::string("SELECT pg_notify('") + notify_channel + "', '')";
    mark_batch_sql_ = "INSERT INTO " + writers_table_ +
                      " (writer, batch) VALUES ($1::text, $2::bigint) ON CONFLICT (writer) DO "
                      "UPDATE SET batch = excluded.batch, at = now()";
    create_mark_sql_ = "INSERT INTO " + writers_table_ +
                       " (writer, batch) VALUES ($1::text, 0) ON CONFLICT (writer) DO UPDATE SET "
                       "at = now()";
    // FOR UPDATE: waits while the batch in doubt still runs on the old session's backend.
    read_mark_sql_ = "SELECT batch FROM " + writers_table_ + " WHERE writer = $1::text FOR UPDATE";
    read_counter_sql_ = "SELECT last_id FROM " + counter_table_;
    read_sql_ = "SELECT id, origin, channel, payload FROM " + log_table_ +
                " WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint";
    const auto make = [&](const char* name) {
        return std::make_shared<pg_connection>(
            context_, options_.conninfo, options_.connect_timeout,
            link::backoff(options_.initial_backoff, options_.max_backoff), name);
    };
    writer_ = make("log writer");
    reader_ = make("log reader");
    writer_->set_handlers(
        {[this] { on_writer_up(); },
         [this](std::string_view reason, bool was_up) { on_writer_down(reason, was_up); },
         {}});
    reader_->set_handlers(
        {[this] { on_reader_up(); },
         [this](std::string_view reason, bool was_up) { on_reader_down(reason, was_up); },
         [this](const PGnotify&) { request_read(); }});
}

log_backplane::~log_backplane() {
    stop();
}

int log_backplane::reader_pid() const noexcept {
    return reader_->backend_pid();
}

int log_backplane::writer_pid() const noexcept {
    return writer_->backend_pid();
}

template <class F>
void log_backplane::run(F f) {
    // Inline on the control shard (the router's own calls), posted from the others.
    boost::asio::dispatch(context_, std::move(f));
}

template <class Handler, class Value>
void log_backplane::answer(Handler done, Value value) {
    boost::asio::post(context_, [done = std::move(done), value = std::move(value)]() mutable {
        done(std::move(value));
    });
}

void log_backplane::start(backplane_handler& handler) {
    run([this, h = &handler] {
        handler_ = h;
        stopped_ = false;
        writer_->start();
        reader_->start();
        schedule_poll();
        schedule_trim();
    });
}

void log_backplane::stop() {
    // Called on the control shard, or after the shard threads stopped.
    stopped_ = true;
    handler_ = nullptr;
    writer_->stop();
    reader_->stop();
    poll_timer_.cancel();
    trim_timer_.cancel();
    reading_ = false;
    writer_ready_ = false;
    batch_in_flight_ = false;
    connected_ = false;
    subscriptions_.clear();
    queue_.clear();
    in_flight_.clear();
    in_doubt_ = false;
    buffered_bytes_ = 0;
    sync_waiters_.clear();
}

void log_backplane::update_connected() {
    // Usable once appends can go out and the reader knows where it starts.
    const bool up = !stopped_ && writer_ready_ && reader_->up() && synced_;
    if (up != connected_.load(std::memory_order_relaxed)) {
        if (up) {
            if (std::exchange(was_up_, true)) {
                reconnects_.fetch_add(1, std::memory_order_relaxed);
            }
            spdlog::info("backplane: connected to PostgreSQL (durable log at {})", position_);
        } else {
            spdlog::warn(
                "backplane: lost PostgreSQL; publishing into a bounded buffer until it is back");
        }
    }
    connected_ = up;
}

// --- subscriptions ------------------------------------------------------------------------

void log_backplane::subscribe(const std::string& channel) {
    run([this, channel] { ++subscriptions_[channel]; });
}

void log_backplane::unsubscribe(const std::string& channel) {
    run([this, channel] {
        const auto it = subscriptions_.find(channel);
        if (it != subscriptions_.end() && --it->second == 0) {
            subscriptions_.erase(it);
        }
    });
}

void log_backplane::when_subscribed(const std::string& /*channel*/, std::function<void()> then) {
    // The log carries every channel: a subscription counts for every entry not handed on yet,
    // once the reader knows where it starts (entries before that point are not read at all).
    run([this, then = std::move(then)]() mutable {
        if (synced_ || !reader_->up() || stopped_) {
            return boost::asio::post(context_, std::move(then));
        }
        sync_waiters_.push_back(std::move(then));
    });
}

// --- publishing ---------------------------------------------------------------------------

void log_backplane::publish(const std::string& channel, shared_buffer payload) {
    if (context_.get_executor().running_in_this_thread()) {
        return publish_here(channel, std::move(payload));
    }
    run([this, channel, payload = std::move(payload)]() mutable {
        publish_here(channel, std::move(payload));
    });
}

void log_backplane::publish_here(const std::string& channel, shared_buffer payload) {
    if (stopped_) {
        return;
    }
    if (!payload) {
        payload = make_shared_buffer(std::string());
    }
    // The name and the statement's framing count too: a flood of empty payloads is bounded.
    const auto cost = payload->size() + channel.size() + 64;
    if (buffered_bytes_ + cost > options_.max_buffered_bytes) {
        return count_drop();
    }
    queue_.push_back({channel, std::move(payload), cost});
    buffered_bytes_ += cost;
    ++accepted_;
    // Idle: at once. Otherwise it joins the next batch, sent when this one is answered.
    flush_publications();
}

void log_backplane::flush_publications() {
    if (!writer_ready_ || batch_in_flight_ || in_doubt_ || queue_.empty()) {
        return;
    }
    auto error = std::make_shared<std::string>();  // the first failure: the batch rolled back
    const auto on_result = [error](const PGresult* result) {
        if (!succeeded(result) && error->empty()) {
            *error = result_error(result);
        }
    };
    // Oversized ones first: they cannot be sent at all (libpq's parameter lengths are ints,
    // and bytea stops at 1 GB).
    const auto sendable = [](const outgoing& m) {
        constexpr auto limit = static_cast<std::size_t>(std::numeric_limits<int>::max());
        return m.payload->size() <= limit && m.channel.size() <= limit;
    };
    while (!queue_.empty() && !sendable(queue_.front())) {
        ++answered_;
        ++refused_;
        buffered_bytes_ -= queue_.front().cost;
        queue_.pop_front();
    }
    if (queue_.empty()) {
        return;
    }
    // First in the batch's transaction: the batch's number for this writer. It tells a later
    // session whether the batch committed when its answer was lost, and its row lock makes
    // that session's check wait for the batch's transaction while it still runs.
    const auto batch = std::to_string(++batch_seq_);
    const std::array<const char*, 2> mark{writer_key_.c_str(), batch.c_str()};
    pg_connection::parameters mark_parameters;
    mark_parameters.count = 2;
    mark_parameters.values = mark.data();
    if (!writer_->send_query(mark_batch_sql_.c_str(), mark_parameters, on_result)) {
        return;  // the session is going down; nothing of this batch went out
    }
    batch_in_flight_ = true;
    while (!queue_.empty() && in_flight_.size() < options_.max_batch_messages &&
           sendable(queue_.front())) {
        auto& message = queue_.front();
        const auto size = message.payload->size();
        const std::array<const char*, 3> values{options_.server_name.c_str(),
                                                message.channel.data(), message.payload->data()};
        const std::array<int, 3> lengths{0, static_cast<int>(message.channel.size()),
                                         static_cast<int>(size)};
        const std::array<int, 3> formats{0, 1, 1};
        pg_connection::parameters p;
        p.count = 3;
        p.values = values.data();
        p.lengths = lengths.data();
        p.formats = formats.data();
        if (!writer_->send_prepared(append_statement, p, on_result)) {
            break;  // the session is going down; what was sent is in doubt, the rest waits
        }
        in_flight_.push_back(std::move(message));
        queue_.pop_front();
    }
    // One NOTIFY in the batch's transaction, delivered to the listeners at commit.
    const bool synced = writer_->send_query(notify_sql_.c_str(), {}, on_result) &&
                        writer_->sync([this, error](bool processed) {
                            batch_in_flight_ = false;
                            if (!processed) {
                                in_doubt_ =
                                    true;  // the session broke first: resolved on the next one
                                return;
                            }
                            answered_ += in_flight_.size();
                            if (!error->empty()) {
                                refused_ += in_flight_.size();
                                const auto now = std::chrono::steady_clock::now();
                                if (now - last_error_log_ >= std::chrono::seconds(1)) {
                                    last_error_log_ = now;
                                    spdlog::warn("backplane: PostgreSQL refused {} log entries: {}",
                                                 in_flight_.size(), *error);
                                }
                            }
                            release_in_flight();
                            flush_publications();
                        });
    if (!synced) {
        // The session failed while the batch was written: no sync handler will run, and
        // without its Sync the transaction cannot have committed; checked all the same.
        batch_in_flight_ = false;
        in_doubt_ = true;
    }
}

void log_backplane::release_in_flight() {
    for (const auto& message : in_flight_) {
        buffered_bytes_ -= message.cost;
    }
    in_flight_.clear();
}

void log_backplane::resolve_in_doubt() {
    // The batch whose answer was lost committed exactly when this writer's mark reached its
    // number (the mark is written in the batch's transaction): then it is confirmed, else it
    // goes out again, ahead of what was queued after it. Exactly once either way.
    const auto batch = batch_seq_;
    const std::array<const char*, 1> values{writer_key_.c_str()};
    pg_connection::parameters p;
    p.count = 1;
    p.values = values.data();
    const bool sent =
        writer_->send_query(read_mark_sql_.c_str(), p, [this, batch](const PGresult* r) {
            if (!succeeded(r)) {
                if (r != nullptr) {
                    spdlog::warn("backplane: cannot check the PostgreSQL log's last batch: {}",
                                 result_error(r));
                }
                return;  // still in doubt: checked again on the next session
            }
            const auto marked = PQntuples(r) == 1 ? parse_int(value_of(r, 0, 0)) : std::nullopt;
            const bool committed = marked && *marked >= static_cast<std::int64_t>(batch);
            in_doubt_ = false;
            spdlog::info("backplane: a PostgreSQL log batch of {} whose answer was lost {}",
                         in_flight_.size(), committed ? "had committed" : "goes out again");
            if (committed) {
                answered_ += in_flight_.size();
                release_in_flight();
            } else {
                for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it) {
                    queue_.push_front(std::move(*it));
                }
                in_flight_.clear();
            }
            flush_publications();
        });
    if (sent) {
        (void)writer_->sync({});
    }
}

void log_backplane::count_drop() {
    ++drops_since_log_;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    // One line per second at most: a long outage must not flood the log.
    if (now - last_drop_log_ >= std::chrono::seconds(1)) {
        last_drop_log_ = now;
        spdlog::warn("backplane: PostgreSQL buffer full, dropped {} publication(s) (total {})",
                     std::exchange(drops_since_log_, 0), dropped_.load());
    }
}

void log_backplane::on_writer_up() {
    // The schema first (idempotent, under the DDL lock), then the append statement: the
    // pipeline runs them in order, before any append or record statement sent after them.
    const std::vector<std::string> statements{
        schema_lock_sql,
        "CREATE SCHEMA IF NOT EXISTS " + quote_identifier(options_.schema),
        "CREATE TABLE IF NOT EXISTS " + log_table_ +
            " (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), origin text NOT "
            "NULL, channel bytea NOT NULL, payload bytea NOT NULL)",
        "CREATE INDEX IF NOT EXISTS \"switchboard_log_at\" ON " + log_table_ + " (at)",
        "CREATE TABLE IF NOT EXISTS " + counter_table_ +
            " (one boolean PRIMARY KEY DEFAULT true CHECK (one), last_id bigint NOT NULL)",
        "INSERT INTO " + counter_table_ + " (one, last_id) VALUES (true, 0) ON CONFLICT DO NOTHING",
        "CREATE TABLE IF NOT EXISTS " + writers_table_ +
            " (writer text PRIMARY KEY, batch bigint NOT NULL, at timestamptz NOT NULL DEFAULT "
            "now())",
        "CREATE TABLE IF NOT EXISTS " + records_table_ +
            " (key text PRIMARY KEY, value text NOT NULL, expires_at timestamptz NOT NULL)",
        "CREATE INDEX IF NOT EXISTS \"switchboard_records_expires_at\" ON " + records_table_ +
            " (expires_at)",
    };
    auto error = std::make_shared<std::string>();
    const auto on_result = [error](const PGresult* result) {
        if (!succeeded(result) && error->empty()) {
            *error = result_error(result);
        }
    };
    for (const auto& sql : statements) {
        if (!writer_->send_query(sql.c_str(), {}, on_result)) {
            return;
        }
    }
    // This writer's mark exists before its first batch, so that a batch updates (and locks) a
    // row that a check from a later session can wait for.
    const std::array<const char*, 1> key{writer_key_.c_str()};
    pg_connection::parameters p;
    p.count = 1;
    p.values = key.data();
    if (!writer_->send_query(create_mark_sql_.c_str(), p, on_result) || !writer_->sync({})) {
        return;
    }
    if (!writer_->send_prepare(append_statement, append_sql_.c_str(), 0, nullptr, on_result) ||
        !writer_->sync([this, error](bool synced) {
            if (!synced) {
                return;  // retried on the next session
            }
            if (!error->empty()) {
                // connected() stays false: /readyz reports the bus as unusable.
                spdlog::error(
                    "backplane: cannot set up the durable log in PostgreSQL schema {}: {}",
                    options_.schema, *error);
                return;
            }
            writer_ready_ = true;
            update_connected();
            request_read();  // the tables exist now: a reader that found none reads again
            if (in_doubt_) {
                return resolve_in_doubt();
            }
            flush_publications();
        })) {
        return;
    }
}

void log_backplane::on_writer_down(std::string_view reason, bool was_up) {
    if (was_up) {
        spdlog::warn("backplane: PostgreSQL log writing session lost: {}", reason);
    }
    writer_ready_ = false;
    update_connected();
}

// --- reading ------------------------------------------------------------------------------

void log_backplane::on_reader_up() {
    // Before the first read in the pipeline: no append committed after that read's snapshot
    // can go unnoticed.
    const auto sql = std::string("LISTEN ") + quote_identifier(notify_channel);
    if (!reader_->send_query(sql.c_str(), {}, [](const PGresult* result) {
            if (result != nullptr && !succeeded(result)) {
                spdlog::warn("backplane: PostgreSQL LISTEN failed: {} (polling only)",
                             result_error(result));
            }
        })) {
        return;
    }
    (void)reader_->sync({});
    update_connected();
    request_read();
}

void log_backplane::on_reader_down(std::string_view reason, bool was_up) {
    if (was_up) {
        spdlog::warn("backplane: PostgreSQL log reading session lost: {}", reason);
    }
    update_connected();
    // Down: when_subscribed answers at once, so the waiting ones are answered now too.
    auto waiters = std::move(sync_waiters_);
    sync_waiters_.clear();
    for (auto& then : waiters) {
        then();
    }
}

pg_connection* log_backplane::usable(pg_connection* preferred) const {
    if (preferred->up()) {
        return preferred;
    }
    auto* other = preferred == writer_.get() ? reader_.get() : writer_.get();
    return other->up() ? other : nullptr;
}

void log_backplane::request_read() {
    if (reading_) {
        read_again_ = true;
        return;
    }
    do_read();
}

void log_backplane::do_read() {
    // The first read waits for the tables (the writing session makes them, then reads).
    if (stopped_ || !reader_->up() || (!synced_ && !writer_ready_)) {
        return;
    }
    reading_ = true;
    read_again_ = false;
    // Before the starting point is known: only the counter (nothing is after the largest id).
    const auto after = synced_ ? last_id_ : std::numeric_limits<std::int64_t>::max();
    read_page(*reader_, after, options_.read_batch, [this](page p) { on_page(std::move(p)); });
}

void log_backplane::read_page(pg_connection& session, std::int64_t after, std::size_t count,
                              page_handler done) {
    // Two statements, two snapshots, in this order: every id up to the counter's value has
    // committed before the second one starts, so the page holds each of them still in the log.
    auto result = std::make_shared<page>();
    const auto fail = [result](const PGresult* r) {
        if (!succeeded(r) && result->error.empty()) {
            result->error = result_error(r);
        }
    };
    if (!session.send_query(read_counter_sql_.c_str(), {}, [result, fail](const PGresult* r) {
            fail(r);
            if (succeeded(r) && PQntuples(r) == 1) {
                result->last_id = parse_int(value_of(r, 0, 0)).value_or(-1);
            }
        })) {
        return answer(std::move(done), page{false, std::string(log_unavailable), -1, {}});
    }
    const auto after_text = std::to_string(after);
    const auto count_text = std::to_string(count);
    const std::array<const char*, 2> values{after_text.c_str(), count_text.c_str()};
    pg_connection::parameters p;
    p.count = 2;
    p.values = values.data();
    p.result_format = 1;  // bytea as raw bytes
    const bool sent =
        session.send_query(read_sql_.c_str(), p, [this, result, fail](const PGresult* r) {
            fail(r);
            if (!succeeded(r)) {
                return;
            }
            const int rows = PQntuples(r);
            if (PQnfields(r) != 4) {
                result->error = "unexpected columns in the log table";
                return;
            }
            result->entries.reserve(static_cast<std::size_t>(rows));
            for (int i = 0; i < rows; ++i) {
                const auto id = binary_int8(value_of(r, i, 0));
                if (!id) {
                    rejected_.fetch_add(1, std::memory_order_relaxed);
                    result->error = "malformed log id";
                    return;
                }
                log_entry entry;
                entry.id = std::to_string(*id);
                entry.origin = std::string(value_of(r, i, 1));
                entry.channel = std::string(value_of(r, i, 2));
                entry.payload = make_shared_buffer(std::string(value_of(r, i, 3)));
                result->entries.emplace_back(*id, std::move(entry));
            }
        });
    if (!sent || !session.sync([result, done](bool synced) mutable {
            if (!synced && result->error.empty()) {
                result->error = "connection lost";
            }
            if (result->error.empty() && result->last_id < 0) {
                result->error = "no log counter";
            }
            result->ok = result->error.empty();
            done(std::move(*result));
        })) {
        // What was queued is answered as lost when the session closes; `done` is not.
        answer(std::move(done), page{false, std::string(log_unavailable), -1, {}});
    }
}

void log_backplane::on_page(page p) {
    reading_ = false;
    if (stopped_) {
        return;
    }
    if (!p.ok) {
        // The poll reads again; a session that comes back reads at once.
        const auto now = std::chrono::steady_clock::now();
        if (reader_->up() && now - last_error_log_ >= std::chrono::seconds(1)) {
            last_error_log_ = now;
            spdlog::warn("backplane: cannot read the PostgreSQL durable log: {}", p.error);
        }
        if (read_again_) {
            do_read();  // woken meanwhile (a session came back): not a retry loop
        }
        return;
    }
    const auto gap = [&](std::int64_t end) {
        last_id_ = end;
        position_ = std::to_string(end);
        if (observer_ != nullptr) {
            observer_->on_log_gap();
        }
    };
    if (!synced_) {
        // Start at the current end: what was published before this instance came is not its.
        synced_ = true;
        last_id_ = p.last_id;
        position_ = std::to_string(last_id_);
        update_connected();
        auto waiters = std::move(sync_waiters_);
        sync_waiters_.clear();
        for (auto& then : waiters) {
            boost::asio::post(context_, std::move(then));
        }
        return do_read();
    }
    if (p.last_id < last_id_) {
        // The counter went back: the tables were dropped and made again, the log is another.
        spdlog::warn(
            "backplane: the PostgreSQL durable log restarted at {} (this instance was "
            "at {})",
            p.last_id, last_id_);
        gap(p.last_id);
        return do_read();
    }
    for (auto& [id, entry] : p.entries) {
        if (id != last_id_ + 1) {
            // Ids have no holes: the ones before `id` were trimmed before this reader got to
            // them. On from the end, as the interface says.
            spdlog::warn(
                "backplane: the PostgreSQL durable log lost entries {} to {} before this "
                "instance read them",
                last_id_ + 1, id - 1);
            gap(std::max(p.last_id, id - 1));
            return do_read();
        }
        last_id_ = id;
        position_ = entry.id;
        if (observer_ != nullptr) {
            observer_->on_log_entry(entry);
        }
        if (stopped_) {
            return;
        }
        if (handler_ != nullptr && entry.origin != options_.server_name) {
            const auto it = subscriptions_.find(entry.channel);
            if (it != subscriptions_.end() && it->second > 0) {
                handler_->on_backplane_message(entry.channel, entry.payload);
            }
        }
        if (stopped_) {
            return;
        }
    }
    if (p.entries.size() < options_.read_batch && last_id_ < p.last_id) {
        // A short page that ends before the counter: the rest was trimmed under it.
        gap(p.last_id);
    }
    if (read_again_ || p.entries.size() >= options_.read_batch) {
        do_read();
    }
}

void log_backplane::schedule_poll() {
    poll_timer_.expires_after(options_.poll_interval);
    poll_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) {
            return;
        }
        request_read();
        schedule_poll();
    });
}

// --- durable_log --------------------------------------------------------------------------

void log_backplane::read_after(const std::string& after, std::size_t count, read_handler done) {
    using result = expected<std::vector<log_entry>>;
    const auto start = parse_position(after);
    if (!start) {
        return answer(std::move(done), result(make_error("not a position of this log")));
    }
    if (count == 0) {
        return answer(std::move(done), result(std::vector<log_entry>()));
    }
    auto* session = usable(reader_.get());
    if (session == nullptr) {
        return answer(std::move(done), result(make_error(std::string(log_unavailable))));
    }
    read_page(*session, *start, count, [from = *start, done = std::move(done)](page p) {
        if (!p.ok) {
            return done(result(make_error(std::string(log_unavailable) + ": " + p.error)));
        }
        if (p.last_id < from) {
            return done(result(make_error("not in the log (the log restarted)")));
        }
        // Exact only when the page starts right after `from` (ids have no holes) or, empty,
        // when nothing was appended after it.
        auto expected_id = from + 1;
        std::vector<log_entry> out;
        out.reserve(p.entries.size());
        for (auto& [id, entry] : p.entries) {
            if (id != expected_id) {
                return done(result(make_error("trimmed")));
            }
            ++expected_id;
            out.push_back(std::move(entry));
        }
        if (out.empty() && p.last_id != from) {
            return done(result(make_error("trimmed")));
        }
        done(result(std::move(out)));
    });
}

bool log_backplane::send_record(const char* sql, std::vector<std::string> values,
                                std::function<void(const PGresult*)> done) {
    auto* session = usable(writer_.get());
    if (session == nullptr) {
        return false;
    }
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& v : values) {
        pointers.push_back(v.c_str());
    }
    pg_connection::parameters p;
    p.count = static_cast<int>(pointers.size());
    p.values = pointers.data();
    if (!session->send_query(sql, p, std::move(done))) {
        return false;
    }
    // Its own transaction: a failure does not take an append batch with it.
    (void)session->sync({});
    return true;
}

void log_backplane::put_record(const std::string& key, std::string value,
                               std::chrono::milliseconds ttl) {
    const auto sql = "INSERT INTO " + records_table_ +
                     " (key, value, expires_at) VALUES ($1::text, $2::text, now() + $3::bigint * "
                     "interval '1 millisecond') ON CONFLICT (key) DO UPDATE SET value = "
                     "excluded.value, expires_at = excluded.expires_at";
    (void)send_record(sql.c_str(), {key, std::move(value), milliseconds_text(ttl)},
                      [](const PGresult* result) {
                          if (result != nullptr && !succeeded(result)) {
                              spdlog::warn("backplane: PostgreSQL refused a durable record: {}",
                                           result_error(result));
                          }
                      });
}

void log_backplane::get_record(const std::string& key, get_handler done) {
    using result = expected<std::optional<std::string>>;
    const auto sql =
        "SELECT value FROM " + records_table_ + " WHERE key = $1::text AND expires_at > now()";
    auto shared = std::make_shared<get_handler>(std::move(done));
    if (!send_record(sql.c_str(), {key}, [shared](const PGresult* r) {
            if (!succeeded(r)) {
                return (*shared)(result(make_error("record unavailable: " + result_error(r))));
            }
            if (PQntuples(r) == 0) {
                return (*shared)(result(std::optional<std::string>()));
            }
            (*shared)(result(std::optional<std::string>(std::string(value_of(r, 0, 0)))));
        })) {
        answer(std::move(*shared), result(make_error("record unavailable")));
    }
}

void log_backplane::compare_and_set_record(const std::string& key, std::string expected,
                                           std::string desired, std::chrono::milliseconds ttl,
                                           swap_handler done) {
    using result = switchboard::expected<bool>;
    // One statement: the row lock makes racing updates with the same `expected` queue, and
    // the second re-reads the value the first wrote, so exactly one of them matches.
    const auto sql =
        "UPDATE " + records_table_ +
        " SET value = $3::text, expires_at = now() + $4::bigint * interval '1 "
        "millisecond' WHERE key = $1::text AND value = $2::text AND expires_at > now()";
    auto shared = std::make_shared<swap_handler>(std::move(done));
    if (!send_record(
            sql.c_str(), {key, std::move(expected), std::move(desired), milliseconds_text(ttl)},
            [shared](const PGresult* r) {
                if (!succeeded(r)) {
                    return (*shared)(result(make_error("record unavailable: " + result_error(r))));
                }
                (*shared)(result(std::string_view(PQcmdTuples(const_cast<PGresult*>(r))) == "1"));
            })) {
        answer(std::move(*shared), result(make_error("record unavailable")));
    }
}

void log_backplane::erase_record(const std::string& key) {
    const auto sql = "DELETE FROM " + records_table_ + " WHERE key = $1::text";
    (void)send_record(sql.c_str(), {key}, {});
}

// --- trimming -----------------------------------------------------------------------------

void log_backplane::schedule_trim() {
    trim_timer_.expires_after(options_.trim_interval);
    trim_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) {
            return;
        }
        trim();
        schedule_trim();
    });
}

void log_backplane::trim() {
    if (!writer_ready_) {
        return;
    }
    // Always a prefix of ids (never by `at` alone: a batch that waited for the counter's lock
    // has a later id than its start time says), so the log never has a hole in the middle.
    // The byte bound keeps as many entries as $3 bytes hold at the newest thousand's average
    // size (read by the primary key's index, not the whole log).
    const auto log_sql =
        std::string("WITH lock AS (SELECT pg_try_advisory_xact_lock(") + trim_lock_key +
        ") AS got), fit AS (SELECT CASE WHEN $3::bigint > 0 THEN coalesce((SELECT "
        "greatest(1, floor($3::bigint / nullif(avg(octet_length(channel) + "
        "octet_length(payload)), 0)))::bigint FROM (SELECT channel, payload FROM " +
        log_table_ +
        " ORDER BY id DESC LIMIT 1000) newest), $2::bigint) ELSE $2::bigint END AS keep), "
        "cut AS (SELECT greatest(coalesce((SELECT max(id) FROM " +
        log_table_ +
        " WHERE at < now() - $1::bigint * interval '1 millisecond'), 0), (SELECT last_id FROM " +
        counter_table_ +
        ") - least($2::bigint, fit.keep)) AS upto FROM lock, fit WHERE got) DELETE FROM " +
        log_table_ + " l USING cut WHERE l.id <= cut.upto";
    // No cap: a count larger than any id keeps everything the window keeps.
    const auto cap = options_.max_entries > 0
                         ? std::to_string(options_.max_entries)
                         : std::to_string(std::numeric_limits<std::int64_t>::max() / 2);
    const auto report = [](const PGresult* result) {
        if (result != nullptr && !succeeded(result)) {
            spdlog::warn("backplane: PostgreSQL durable log trim failed: {}", result_error(result));
        }
    };
    (void)send_record(log_sql.c_str(),
                      {milliseconds_text(options_.window), cap, std::to_string(options_.max_bytes)},
                      report);
    const auto records_sql = "DELETE FROM " + records_table_ + " WHERE expires_at < now()";
    (void)send_record(records_sql.c_str(), {}, report);
    // A writer's mark matters while its process lives (it is rewritten with every batch); a
    // day past the window, its process is long gone.
    const auto writers_sql = "DELETE FROM " + writers_table_ +
                             " WHERE at < now() - interval '1 day' - $1::bigint * interval '1 "
                             "millisecond'";
    (void)send_record(writers_sql.c_str(), {milliseconds_text(options_.window)}, report);
}

}  // namespace switchboard::routing::postgres
