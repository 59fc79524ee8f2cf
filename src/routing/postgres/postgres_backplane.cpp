#include "routing/postgres/postgres_backplane.hpp"

#include "routing/postgres/identifier.hpp"
#include "routing/postgres/notify_payload.hpp"
#include "routing/postgres/payload_table.hpp"
#include "routing/postgres/pg_connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>

#include <array>
#include <limits>
#include <utility>
#include <variant>

namespace switchboard::routing::postgres {

namespace {

// pg_type OID of the prepared statement's parameters.
constexpr Oid text_oid = 25;

constexpr const char* notify_statement = "switchboard_notify";

// Serializes the DDL of instances starting together: CREATE ... IF NOT EXISTS still races on
// the catalogs (unique_violation on pg_type). Any fixed key; this one spells "SWBDPGS1".
constexpr const char* schema_lock_sql = "SELECT pg_advisory_xact_lock(6004234345505965873)";
const std::string schema_lock = schema_lock_sql;

// Received references waiting for their row, at most: beyond it a flood of them is dropped
// rather than queued without bound (each is one round trip on the listening session).
constexpr std::size_t max_pending_deliveries = 65'536;

}  // namespace

bool postgres_backplane::rate_limited::due(clock::time_point now) {
    ++since_log;
    if (now - last < std::chrono::seconds(1)) {
        return false;
    }
    last = now;
    return true;
}

postgres_backplane::postgres_backplane(boost::asio::io_context& context, backplane_options options)
    : context_(context),
      options_(std::move(options)),
      resume_timer_(context),
      cleanup_timer_(context) {
    const auto make = [&](const char* name) {
        return std::make_shared<pg_connection>(
            context_, options_.conninfo, options_.connect_timeout,
            link::backoff(options_.initial_backoff, options_.max_backoff), name);
    };
    listener_ = make("listen");
    publisher_ = make("publish");
    listener_->set_handlers(
        {[this] { on_listener_up(); },
         [this](std::string_view reason, bool was_up) { on_listener_down(reason, was_up); },
         [this](const PGnotify& notify) { on_notify(notify); }});
    publisher_->set_handlers(
        {[this] { on_publisher_up(); },
         [this](std::string_view reason, bool was_up) { on_publisher_down(reason, was_up); },
         {}});
}

postgres_backplane::~postgres_backplane() {
    stop();
}

template <class F>
void postgres_backplane::run(F f) {
    // Inline on the control shard (the router's own calls), posted from the others.
    boost::asio::dispatch(context_, std::move(f));
}

void postgres_backplane::start(backplane_handler& handler) {
    run([this, h = &handler] {
        handler_ = h;
        started_ = true;
        listener_->start();
        publisher_->start();
    });
}

void postgres_backplane::stop() {
    // Called on the control shard, or after the shard threads stopped.
    handler_ = nullptr;
    started_ = false;
    listener_->stop();
    publisher_->stop();
    resume_timer_.cancel();
    cleanup_timer_.cancel();
    connected_ = false;
    sessions_up_ = 0;
    channels_.clear();
    deliveries_.clear();
    queue_.clear();
    buffered_bytes_ = 0;
    batch_in_flight_ = false;
    publisher_ready_ = false;
    publisher_prepared_ = false;
}

void postgres_backplane::update_connected() {
    sessions_up_ = (listener_->up() ? 1 : 0) + (publisher_->up() ? 1 : 0);
    // Reachable once both sessions are usable; a resume delay only holds publications back.
    const bool up = started_ && listener_->up() && publisher_->up() && publisher_prepared_;
    if (up != connected_) {
        if (up) {
            if (std::exchange(was_up_, true)) {
                reconnects_.fetch_add(1, std::memory_order_relaxed);
            }
            unreachable_reported_ = false;
            spdlog::info("backplane: connected to PostgreSQL");
        } else {
            spdlog::warn(
                "backplane: lost PostgreSQL; publishing into a bounded buffer until it is back");
        }
    }
    connected_ = up;
}

// --- subscriptions ------------------------------------------------------------------------

void postgres_backplane::subscribe(const std::string& channel) {
    run([this, channel] {
        auto bus = codec_.to_bus(channel);
        auto& state = channels_[bus];
        if (++state.subscriptions == 1) {
            state.logical = channel;
            if (listener_->up()) {
                send_listen(bus, state);
            }
        }
    });
}

void postgres_backplane::unsubscribe(const std::string& channel) {
    run([this, channel] {
        const auto bus = codec_.to_bus(channel);
        const auto it = channels_.find(bus);
        if (it == channels_.end() || --it->second.subscriptions > 0) {
            return;
        }
        auto waiters = std::move(it->second.waiters);
        channels_.erase(it);
        if (listener_->up() &&
            listener_->send_query(("UNLISTEN " + quote_identifier(bus)).c_str(), {}, {})) {
            listener_->sync({});
        }
        for (auto& then : waiters) {
            then();
        }
    });
}

void postgres_backplane::when_subscribed(const std::string& channel, std::function<void()> then) {
    run([this, channel, then = std::move(then)]() mutable {
        if (!listener_->up()) {
            return then();
        }
        const auto it = channels_.find(codec_.to_bus(channel));
        if (it == channels_.end() || it->second.listening) {
            return then();
        }
        it->second.waiters.push_back(std::move(then));
    });
}

void postgres_backplane::send_listen(const std::string& bus_name, channel_state& state) {
    const auto serial = ++listen_serial_;
    state.serial = serial;
    state.listening = false;
    auto failed = std::make_shared<bool>(false);
    const auto sql = "LISTEN " + quote_identifier(bus_name);
    if (!listener_->send_query(sql.c_str(), {}, [this, failed](const PGresult* result) {
            if (result != nullptr && !succeeded(result)) {
                *failed = true;
                spdlog::error("backplane: PostgreSQL LISTEN failed: {}", result_error(result));
            }
        })) {
        return;  // the session is going down: the reconnect LISTENs again
    }
    listener_->sync([this, bus_name, serial, failed](bool synced) {
        const auto it = channels_.find(bus_name);
        if (it == channels_.end() || it->second.serial != serial) {
            return;  // unsubscribed, or LISTENed again since
        }
        it->second.listening = synced && !*failed;
        release_waiters(it->second);
    });
}

void postgres_backplane::release_waiters(channel_state& state) {
    auto waiters = std::move(state.waiters);
    state.waiters.clear();
    for (auto& then : waiters) {
        then();  // may subscribe: `state` is not touched again
    }
}

void postgres_backplane::on_listener_up() {
    for (auto& [name, state] : channels_) {
        send_listen(name, state);
    }
    update_connected();
}

void postgres_backplane::on_listener_down(std::string_view reason, bool was_up) {
    if (was_up) {
        spdlog::warn("backplane: PostgreSQL listening session lost: {}", reason);
    } else if (!unreachable_reported_) {
        // Once per outage: the retries that follow fail the same way.
        spdlog::warn("backplane: cannot reach PostgreSQL: {}; retrying", reason);
        unreachable_reported_ = true;
    }
    // Down: when_subscribed answers at once, so the waiting ones are answered now too.
    std::vector<std::function<void()>> waiters;
    for (auto& [name, state] : channels_) {
        state.listening = false;
        for (auto& then : state.waiters) {
            waiters.push_back(std::move(then));
        }
        state.waiters.clear();
    }
    update_connected();
    for (auto& then : waiters) {
        then();
    }
}

// --- receiving ----------------------------------------------------------------------------

bool postgres_backplane::is_own_pid(int pid) {
    for (const auto& [own, until] : own_pids_) {
        if (own == pid) {
            return until == clock::time_point::max() || clock::now() < until;
        }
    }
    return false;
}

void postgres_backplane::on_notify(const pgNotify& notify) {
    if (is_own_pid(notify.be_pid)) {
        echoes_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const auto it = channels_.find(notify.relname);
    if (it == channels_.end()) {
        return;  // UNLISTENed since, or another application's channel
    }
    auto decoded = decode_notify(notify.extra != nullptr ? notify.extra : "");
    if (!decoded) {
        malformed_.fetch_add(1, std::memory_order_relaxed);
        if (receive_log_.due(clock::now())) {
            spdlog::warn("backplane: {} NOTIFY payload(s) not in Switchboard's format (total {})",
                         std::exchange(receive_log_.since_log, 0), malformed_.load());
        }
        return;
    }
    if (auto* inline_bytes = std::get_if<inline_payload>(&*decoded)) {
        auto payload = make_shared_buffer(std::move(inline_bytes->bytes));
        if (deliveries_.empty()) {
            received_.fetch_add(1, std::memory_order_relaxed);
            // A copy of the name: the handler may unsubscribe it.
            const std::string channel = it->second.logical;
            if (handler_ != nullptr) {
                handler_->on_backplane_message(channel, payload);
            }
            return;
        }
        deliveries_.push_back({it->second.logical, std::move(payload), false});
        return;
    }
    if (deliveries_.size() >= max_pending_deliveries) {
        missing_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const auto index = first_delivery_index_ + deliveries_.size();
    deliveries_.push_back({it->second.logical, nullptr, true});
    fetch(it->second.logical, std::get<payload_reference>(*decoded).row_id, index);
}

void postgres_backplane::fetch(const std::string& logical, std::int64_t row_id,
                               std::uint64_t index) {
    const auto id = std::to_string(row_id);
    const std::array<const char*, 1> values{id.c_str()};
    pg_connection::parameters p;
    p.count = 1;
    p.values = values.data();
    p.result_format = 1;  // the bytea as raw bytes
    const auto done = [this, index, row_id](const PGresult* result) {
        if (index < first_delivery_index_) {
            return;
        }
        auto& item = deliveries_[index - first_delivery_index_];
        item.fetching = false;
        if (result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK &&
            PQntuples(result) == 1 && PQgetisnull(result, 0, 0) == 0) {
            item.payload = make_shared_buffer(std::string(
                PQgetvalue(result, 0, 0), static_cast<std::size_t>(PQgetlength(result, 0, 0))));
        } else {
            missing_.fetch_add(1, std::memory_order_relaxed);
            if (receive_log_.due(clock::now())) {
                spdlog::warn(
                    "backplane: PostgreSQL payload row {} unavailable ({}); message dropped "
                    "(total {})",
                    row_id,
                    result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK
                        ? std::string("deleted or never written")
                        : result_error(result),
                    missing_.load());
                receive_log_.since_log = 0;
            }
        }
        drain_deliveries();
    };
    if (!listener_->send_query(table_for(logical).fetch_sql.c_str(), p, done)) {
        return done(nullptr);
    }
    listener_->sync({});
}

void postgres_backplane::drain_deliveries() {
    while (!deliveries_.empty() && !deliveries_.front().fetching) {
        auto item = std::move(deliveries_.front());
        deliveries_.pop_front();
        ++first_delivery_index_;
        if (item.payload) {
            received_.fetch_add(1, std::memory_order_relaxed);
            if (handler_ != nullptr) {
                handler_->on_backplane_message(item.channel, item.payload);
            }
        }
    }
}

// --- publishing ---------------------------------------------------------------------------

void postgres_backplane::publish(const std::string& channel, shared_buffer payload) {
    if (context_.get_executor().running_in_this_thread()) {
        return publish_here(channel, std::move(payload));
    }
    run([this, channel, payload = std::move(payload)]() mutable {
        publish_here(channel, std::move(payload));
    });
}

void postgres_backplane::publish_here(const std::string& channel, shared_buffer payload) {
    // The name and the statement's framing count too: a flood of empty payloads is bounded.
    const auto cost = payload->size() + channel.size() + 64;
    if (buffered_bytes_ + cost > options_.max_buffered_bytes) {
        return count_drop();
    }
    payload_table* table = nullptr;
    if (payload->size() > options_.max_inline_bytes) {
        table = &table_for(channel);
        table->used = true;
        if (!table->ensured && publisher_->up()) {
            ensure_table(*table);  // ahead of the INSERT in the session's pipeline
        }
    }
    queue_.push_back({codec_.to_bus(channel), std::move(payload), cost, table});
    buffered_bytes_ += cost;
    // Idle: at once. Otherwise it joins the next batch, sent when this one is acknowledged.
    flush_publications();
}

void postgres_backplane::flush_publications() {
    if (!publisher_ready_ || batch_in_flight_ || queue_.empty()) {
        return;
    }
    std::size_t count = 0;
    std::size_t bytes = 0;
    std::string text;
    const auto on_result = [this](const PGresult* result) {
        if (result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK) {
            published_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        publish_errors_.fetch_add(1, std::memory_order_relaxed);
        if (result != nullptr && error_log_.due(clock::now())) {
            spdlog::warn("backplane: PostgreSQL NOTIFY failed: {} ({} failure(s))",
                         result_error(result), std::exchange(error_log_.since_log, 0));
        }
    };
    while (!queue_.empty() && count < options_.max_batch_messages) {
        auto& message = queue_.front();
        const auto seq = ++seq_;
        const auto size = message.payload->size();
        bool sent = false;
        if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
            // libpq's parameter lengths are ints (and bytea stops at 1 GB): cannot be sent.
            on_result(nullptr);
            buffered_bytes_ -= message.cost;
            queue_.pop_front();
            continue;
        }
        auto* table = message.table;
        const bool table_usable = table != nullptr && table->ensured && !table->failed;
        if (table == nullptr || (!table_usable && size <= max_inline_bytes())) {
            text.clear();
            encode_inline(seq, *message.payload, text);
            const std::array<const char*, 2> values{message.channel.c_str(), text.c_str()};
            pg_connection::parameters p;
            p.count = 2;
            p.values = values.data();
            sent = publisher_->send_prepared(notify_statement, p, on_result);
        } else if (table_usable) {
            const auto prefix = reference_prefix(seq);
            const std::array<const char*, 3> values{message.channel.c_str(),
                                                    message.payload->data(), prefix.c_str()};
            const std::array<int, 3> lengths{0, static_cast<int>(size), 0};
            const std::array<int, 3> formats{0, 1, 0};
            pg_connection::parameters p;
            p.count = 3;
            p.values = values.data();
            p.lengths = lengths.data();
            p.formats = formats.data();
            sent = publisher_->send_query(table->insert_sql.c_str(), p, on_result);
        } else {
            // Too large for a NOTIFY and no table (its creation failed): cannot be sent.
            on_result(nullptr);
            buffered_bytes_ -= message.cost;
            queue_.pop_front();
            continue;
        }
        if (!sent) {
            break;  // the session is going down; the rest waits for the next one
        }
        bytes += message.cost;
        ++count;
        queue_.pop_front();
    }
    if (count == 0) {
        return;
    }
    batch_in_flight_ = true;
    const bool synced = publisher_->sync([this, bytes](bool) {
        batch_in_flight_ = false;
        buffered_bytes_ -= bytes;
        flush_publications();
    });
    if (!synced) {
        // The session failed while the batch was written: its statements are answered as lost
        // when it closes, and no sync handler will run to end the batch.
        batch_in_flight_ = false;
        buffered_bytes_ -= bytes;
    }
}

void postgres_backplane::count_drop() {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (drop_log_.due(clock::now())) {
        spdlog::warn("backplane: PostgreSQL buffer full, dropped {} publication(s) (total {})",
                     std::exchange(drop_log_.since_log, 0), dropped_.load());
    }
}

void postgres_backplane::on_publisher_up() {
    const auto now = clock::now();
    std::erase_if(own_pids_, [&](const auto& entry) { return entry.second <= now; });
    own_pids_.emplace_back(publisher_->backend_pid(), clock::time_point::max());
    update_connected();
    if (!schema_ready_) {
        initialize_schema();
    }
    for (auto& [name, table] : tables_) {
        if (!table.ensured && table.used) {
            ensure_table(table);
        }
    }
    prepare_statements();
}

void postgres_backplane::on_publisher_down(std::string_view reason, bool was_up) {
    if (was_up) {
        spdlog::warn("backplane: PostgreSQL publishing session lost: {}", reason);
    }
    const auto until = clock::now() + options_.own_pid_memory;
    for (auto& entry : own_pids_) {
        if (entry.second == clock::time_point::max()) {
            entry.second = until;
        }
    }
    publisher_ready_ = false;
    publisher_prepared_ = false;
    for (auto& [name, table] : tables_) {
        table.ensured = false;  // sent again on the next session, before its INSERTs
        table.failed = false;
    }
    resume_timer_.cancel();
    update_connected();
}

void postgres_backplane::initialize_schema() {
    const std::array<std::string, 2> statements{
        schema_lock_sql,
        "CREATE SCHEMA IF NOT EXISTS " + quote_identifier(options_.schema),
    };
    auto error = std::make_shared<std::string>();
    for (const auto& sql : statements) {
        if (!publisher_->send_query(sql.c_str(), {}, [error](const PGresult* result) {
                if (!succeeded(result) && error->empty()) {
                    *error = result_error(result);
                }
            })) {
            return;
        }
    }
    publisher_->sync([this, error](bool synced) {
        if (!synced) {
            return;  // retried on the next session
        }
        schema_ready_ = error->empty();
        if (!schema_ready_) {
            spdlog::error("backplane: cannot create the PostgreSQL schema {}: {}", options_.schema,
                          *error);
        }
    });
}

postgres_backplane::payload_table& postgres_backplane::table_for(std::string_view logical_channel) {
    auto name = payload_table_name(hub_of(logical_channel));
    const auto it = tables_.find(name);
    if (it != tables_.end()) {
        return it->second;
    }
    payload_table table;
    table.quoted = quote_identifier(options_.schema) + "." + quote_identifier(name);
    // Not prepared: a statement per hub, for the rare message too large for a NOTIFY. The
    // casts give the parameters the types a prepared statement would have declared.
    table.insert_sql = "WITH i AS (INSERT INTO " + table.quoted +
                       " (payload) VALUES ($2::bytea) RETURNING id) "
                       "SELECT pg_notify($1::text, $3::text || i.id) FROM i";
    table.fetch_sql = "SELECT payload FROM " + table.quoted + " WHERE id = $1::bigint";
    table.cleanup_sql =
        "DELETE FROM " + table.quoted + " WHERE created_at < now() - $1::text::interval";
    table.create_sql = "CREATE TABLE IF NOT EXISTS " + table.quoted +
                       " (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload bytea NOT "
                       "NULL, created_at timestamptz NOT NULL DEFAULT now())";
    table.index_sql = "CREATE INDEX IF NOT EXISTS " + quote_identifier(payload_index_name(name)) +
                      " ON " + table.quoted + " (created_at)";
    return tables_.emplace(std::move(name), std::move(table)).first->second;
}

void postgres_backplane::ensure_table(payload_table& table) {
    // The schema's statements, when still due, were sent before: the pipeline keeps the order.
    const std::array<const std::string*, 3> statements{&schema_lock, &table.create_sql,
                                                       &table.index_sql};
    auto error = std::make_shared<std::string>();
    for (const auto* sql : statements) {
        if (!publisher_->send_query(sql->c_str(), {}, [error](const PGresult* result) {
                if (!succeeded(result) && error->empty()) {
                    *error = result_error(result);
                }
            })) {
            return;
        }
    }
    table.ensured = true;
    publisher_->sync([this, &table, error](bool synced) {
        if (!synced || error->empty()) {
            return;
        }
        table.failed = true;
        spdlog::error(
            "backplane: cannot create the PostgreSQL payload table {}: {}; its payloads over {} "
            "bytes are dropped until a reconnect succeeds",
            table.quoted, *error, max_inline_bytes());
    });
}

void postgres_backplane::prepare_statements() {
    auto notify_error = std::make_shared<std::string>();
    const std::array<Oid, 2> notify_types{text_oid, text_oid};
    if (!publisher_->send_prepare(notify_statement, "SELECT pg_notify($1, $2)", 2,
                                  notify_types.data(), [notify_error](const PGresult* result) {
                                      if (!succeeded(result)) {
                                          *notify_error = result_error(result);
                                      }
                                  })) {
        return;
    }
    publisher_->sync([this, notify_error](bool synced) {
        if (!synced) {
            return;
        }
        if (!notify_error->empty()) {
            spdlog::error("backplane: cannot prepare pg_notify on PostgreSQL: {}", *notify_error);
            return;  // connected() stays false: /readyz reports the bus as unusable
        }
        publisher_prepared_ = true;
        update_connected();
        const bool first = !cleanup_scheduled_;
        const auto ready = [this] {
            publisher_ready_ = true;
            update_connected();
            flush_publications();
        };
        if (first) {
            schedule_cleanup();
            return ready();
        }
        // After an outage: the other instances' listeners come back on their own schedules.
        resume_timer_.expires_after(options_.resume_delay + publisher_->backoff_spread());
        resume_timer_.async_wait([this, ready](boost::system::error_code ec) {
            if (!ec && publisher_->up()) {
                ready();
            }
        });
    });
}

void postgres_backplane::schedule_cleanup() {
    cleanup_scheduled_ = true;
    cleanup_timer_.expires_after(options_.cleanup_interval);
    cleanup_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) {
            return;
        }
        cleanup();
        schedule_cleanup();
    });
}

void postgres_backplane::cleanup() {
    if (!publisher_ready_) {
        return;
    }
    const auto ttl = std::to_string(options_.payload_ttl.count()) + " milliseconds";
    const std::array<const char*, 1> values{ttl.c_str()};
    pg_connection::parameters p;
    p.count = 1;
    p.values = values.data();
    bool sent = false;
    for (auto& [name, table] : tables_) {
        if (!table.used || !table.ensured || table.failed) {
            continue;
        }
        sent = publisher_->send_query(table.cleanup_sql.c_str(), p, [](const PGresult* result) {
            if (result != nullptr && !succeeded(result)) {
                spdlog::warn("backplane: PostgreSQL payload cleanup failed: {}",
                             result_error(result));
            }
        }) || sent;
    }
    if (sent) {
        publisher_->sync({});
    }
}

backplane_statistics postgres_backplane::statistics() const {
    backplane_statistics s;
    s.published = published_.load(std::memory_order_relaxed);
    s.publish_errors = publish_errors_.load(std::memory_order_relaxed);
    s.echoes_dropped = echoes_dropped_.load(std::memory_order_relaxed);
    s.malformed = malformed_.load(std::memory_order_relaxed);
    s.missing_payloads = missing_.load(std::memory_order_relaxed);
    s.received = received_.load(std::memory_order_relaxed);
    s.sessions_up = sessions_up_.load(std::memory_order_relaxed);
    return s;
}

}  // namespace switchboard::routing::postgres
