#include "presence/postgres/postgres_presence_store.hpp"

#include "routing/link/backoff.hpp"
#include "routing/postgres/pg_connection.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>
#include <vector>

namespace switchboard::presence::postgres {

namespace {

using routing::postgres::pg_connection;
using routing::postgres::result_error;
using routing::postgres::succeeded;

// Entries a reap deletes of a dead instance at most: one transaction holds a lock per user it
// settles, and the server's lock table is shared (64 per connection by default); more waits
// for the next call, which follows at once.
constexpr int reap_batch = 256;

// A page holds at most this many entries whatever the caller asks: one statement's work.
constexpr std::size_t max_page = 1000;

// Binary-format values (every statement asks for binary results).
std::string bytes_at(const PGresult* result, int row, int column) {
    return {PQgetvalue(result, row, column),
            static_cast<std::size_t>(PQgetlength(result, row, column))};
}

// A bool, integer or bigint, in network byte order; nullopt for NULL or another width.
std::optional<long long> integer_at(const PGresult* result, int row, int column) {
    if (PQgetisnull(result, row, column) != 0) {
        return std::nullopt;
    }
    const int length = PQgetlength(result, row, column);
    if (length != 1 && length != 2 && length != 4 && length != 8) {
        return std::nullopt;
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(PQgetvalue(result, row, column));
    std::uint64_t value = (bytes[0] & 0x80U) != 0 && length > 1 ? ~std::uint64_t{0} : 0;
    for (int i = 0; i < length; ++i) {
        value = (value << 8U) | bytes[i];
    }
    return static_cast<long long>(value);
}

// The single integer a function call answers; nullopt on failure.
std::optional<long long> single_integer(const PGresult* result) {
    if (!succeeded(result) || PQntuples(result) != 1 || PQnfields(result) < 1) {
        return std::nullopt;
    }
    return integer_at(result, 0, 0);
}

// A batch's answer: (index from 0, code) per row, in the batch's order (the database works
// through a batch in lock order), indexes out of range dropped. The code is column 1, or 0.
std::vector<std::pair<std::size_t, long long>> indexed_rows(const PGresult* result,
                                                            std::size_t size) {
    std::vector<std::pair<std::size_t, long long>> rows;
    for (int row = 0; row < PQntuples(result); ++row) {
        const auto index = integer_at(result, row, 0).value_or(0);
        if (index >= 1 && static_cast<std::size_t>(index) <= size) {
            const auto code = PQnfields(result) > 1 ? integer_at(result, row, 1).value_or(0) : 0;
            rows.emplace_back(static_cast<std::size_t>(index) - 1, code);
        }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
}

error unavailable() {
    return make_error("presence store unavailable");
}

error state_unavailable() {
    return make_error("shared state unavailable");
}

}  // namespace

// Parameters of one statement: bytea values in binary (any bytes, no escaping), numbers as
// text. libpq copies them when the statement is queued, so this lives only for the call.
class postgres_store::statement {
public:
    statement& bytes(std::string_view value) {
        values_.emplace_back(value);
        formats_.push_back(1);
        return *this;
    }
    statement& text(std::string value) {
        values_.push_back(std::move(value));
        formats_.push_back(0);
        return *this;
    }
    statement& number(long long value) {
        values_.push_back(std::to_string(value));
        formats_.push_back(0);
        return *this;
    }
    pg_connection::parameters view() {
        pointers_.clear();
        lengths_.clear();
        for (const auto& value : values_) {
            pointers_.push_back(value.data());
            lengths_.push_back(static_cast<int>(value.size()));
        }
        pg_connection::parameters p;
        p.count = static_cast<int>(values_.size());
        p.values = pointers_.data();
        p.lengths = lengths_.data();
        p.formats = formats_.data();
        p.result_format = 1;
        return p;
    }

private:
    std::vector<std::string> values_;
    std::vector<const char*> pointers_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
};

postgres_store::postgres_store(boost::asio::io_context& context, connection_options connection,
                               store_options options)
    : context_(context),
      session_(std::make_shared<pg_connection>(
          context, std::move(connection.conninfo), connection.connect_timeout,
          routing::link::backoff(connection.initial_backoff, connection.max_backoff), "presence")),
      options_(std::move(options)),
      sql_(connection.schema),
      heartbeat_timer_(context) {
    session_->set_handlers(
        {[this] { on_up(); },
         [this](std::string_view reason, bool was_up) { on_down(reason, was_up); },
         {}});
}

postgres_store::~postgres_store() {
    stop();
}

void postgres_store::start(change_handler on_change) {
    boost::asio::dispatch(context_, [this, on_change = std::move(on_change)]() mutable {
        on_change_ = std::move(on_change);
        running_ = true;
        session_->start();
    });
}

void postgres_store::stop() {
    running_ = false;
    heartbeat_timer_.cancel();
    connected_.store(false, std::memory_order_relaxed);
    session_->stop();
}

void postgres_store::report(const user_change& change) {
    if (on_change_) {
        on_change_(change);
    }
}

void postgres_store::warn(std::string_view what, const PGresult* result) {
    // One line a second at most: an outage must not flood the log.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning_ < std::chrono::seconds(1)) {
        return;
    }
    last_warning_ = now;
    spdlog::warn("presence: PostgreSQL {} failed: {}", what, result_error(result));
}

bool postgres_store::send(const std::string& sql, statement& params,
                          std::function<void(const PGresult*)> handler) {
    flush_batches();  // what was queued before goes before
    return send_now(sql, params, std::move(handler));
}

bool postgres_store::send_after_removes(const std::string& sql, statement& params,
                                        std::function<void(const PGresult*)> handler) {
    if (!remove_batch_.empty()) {
        flush_batches();  // a join or leave must not overtake a removal of its connection
    }
    return send_now(sql, params, std::move(handler));
}

bool postgres_store::send_now(const std::string& sql, statement& params,
                              std::function<void(const PGresult*)> handler) {
    if (!running_ || !session_->up()) {
        return false;
    }
    if (!session_->send_query(sql.c_str(), params.view(), std::move(handler))) {
        return false;
    }
    // A Sync per statement: each is its own transaction, so no lock outlives its statement.
    (void)session_->sync({});
    return true;
}

// --- session ------------------------------------------------------------------------------

void postgres_store::on_up() {
    if (!running_) {
        return;
    }
    send_setup();
    heartbeat();  // at once, first: the database may have restarted empty
    for (auto waiting = std::exchange(waiting_, {}); auto& operation : waiting) {
        operation(session_->up());
    }
}

void postgres_store::on_down(std::string_view reason, bool was_up) {
    connected_.store(false, std::memory_order_relaxed);
    reaping_ = false;
    if (was_up) {
        spdlog::warn("presence: PostgreSQL session lost: {}", reason);
    }
    for (auto waiting = std::exchange(waiting_, {}); auto& operation : waiting) {
        operation(false);
    }
}

void postgres_store::submit(std::function<void(bool up)> operation) {
    if (running_ && session_->up()) {
        return operation(true);
    }
    if (!running_ || waiting_.size() >= max_waiting) {
        return operation(false);
    }
    waiting_.push_back(std::move(operation));
}

void postgres_store::query(const std::string& sql, statement params,
                           std::function<void(const PGresult*)> handler) {
    submit([this, &sql, params = std::move(params), handler = std::move(handler)](bool up) mutable {
        if (!up || !send(sql, params, handler)) {
            // Never inline: the caller may hold what the handler needs.
            boost::asio::post(context_, [handler] { handler(nullptr); });
        }
    });
}

void postgres_store::send_setup() {
    // Every session: the tables may have been dropped, the functions changed by an upgrade.
    auto error = std::make_shared<std::string>();
    for (const auto& sql : sql_.setup) {
        if (!session_->send_query(sql.c_str(), {}, [error](const PGresult* result) {
                if (!succeeded(result) && error->empty()) {
                    *error = result_error(result);
                }
            })) {
            return;
        }
    }
    (void)session_->sync([this, error](bool synced) {
        if (!synced) {
            return;  // again on the next session
        }
        if (!error->empty()) {
            spdlog::error("presence: cannot create the PostgreSQL presence tables: {}", *error);
            return;  // connected() stays false: /readyz reports it
        }
        connected_.store(true, std::memory_order_relaxed);
    });
}

void postgres_store::schedule_heartbeat() {
    heartbeat_timer_.expires_after(options_.heartbeat_interval);
    heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && running_) {
            heartbeat();
        }
    });
}

void postgres_store::heartbeat() {
    heartbeat_timer_.cancel();
    const auto before = write_serial_;
    statement params;
    params.bytes(options_.key_prefix).bytes(options_.instance).number(options_.expiry.count());
    const bool sent = send(sql_.heartbeat, params, [this, before](const PGresult* result) {
        if (!running_) {
            return;
        }
        const auto revived = single_integer(result);
        if (!revived) {
            warn("heartbeat", result);
        } else {
            write_again(*revived == 1, before);
            reap();
            if (session_->up()) {
                (void)session_->send_query(sql_.state_cleanup.c_str(), {}, {});
                (void)session_->sync({});
            }
        }
        schedule_heartbeat();
    });
    if (!sent) {
        schedule_heartbeat();  // down: the next session's start sends one at once
    }
}

void postgres_store::write_again(bool everything, std::uint64_t before) {
    if (everything) {
        // Missing or expired: a reaper may have deleted any of what was written before the
        // heartbeat; what was sent after it found the instance live again.
        for (const auto& [id, entry] : local_) {
            if (entry.written <= before) {
                dirty_.insert(id);
            }
        }
    }
    if (!dirty_.empty()) {
        spdlog::info(
            "presence: writing {} connection(s) again{}", dirty_.size(),
            everything ? " (PostgreSQL had taken this instance for dead or lost its rows)" : "");
    }
    for (auto dirty = std::exchange(dirty_, {}); const auto& id : dirty) {
        if (const auto found = local_.find(id); found != local_.end()) {
            write_connection(id, found->second);
        }
    }
    for (auto retries = std::exchange(retries_, {}); const auto& [key, user] : retries) {
        const auto& [hub, id, group] = key;
        if (group.empty()) {
            queue_remove(hub, id, user);
        } else {
            send_leave(hub, id, group);
        }
    }
}

void postgres_store::reap() {
    if (reaping_) {
        return;
    }
    statement params;
    params.bytes(options_.key_prefix).number(options_.expiry.count()).number(reap_batch);
    reaping_ = send(sql_.reap, params, [this](const PGresult* result) {
        reaping_ = false;
        if (!running_) {
            return;
        }
        if (!succeeded(result)) {
            return warn("reap", result);
        }
        bool more = false;
        for (int row = 0; row < PQntuples(result); ++row) {
            if (PQgetisnull(result, row, 0) != 0) {
                more = true;
                continue;
            }
            report(user_change{bytes_at(result, row, 0), bytes_at(result, row, 1), false, {}});
        }
        if (more) {
            boost::asio::post(context_, [this] { reap(); });
        }
    });
}

// --- updates ------------------------------------------------------------------------------

void postgres_store::write_connection(const std::string& id, local_connection& entry) {
    entry.written = ++write_serial_;
    if (!remove_batch_.empty()) {
        flush_batches();  // a removal queued before stays before
    }
    add_batch_.push_back(id);
    batch_added();
    for (const auto& group : entry.groups) {
        write_group(id, entry.hub, entry.user_id, entry.connected_at_ms, group);
    }
}

void postgres_store::queue_remove(const std::string& hub, const std::string& id,
                                  const std::string& user) {
    if (!add_batch_.empty()) {
        flush_batches();
    }
    remove_batch_.push_back({hub, id, user});
    batch_added();
}

void postgres_store::batch_added() {
    if (add_batch_.size() + remove_batch_.size() >= max_batch) {
        return flush_batches();
    }
    // Whatever else arrives in this turn of the loop joins the batch.
    if (!flush_posted_) {
        flush_posted_ = true;
        boost::asio::post(context_, [this] {
            flush_posted_ = false;
            flush_batches();
        });
    }
}

void postgres_store::flush_batches() {
    if (!add_batch_.empty()) {
        send_adds(std::exchange(add_batch_, {}));
    }
    if (!remove_batch_.empty()) {
        send_removes(std::exchange(remove_batch_, {}));
    }
}

void postgres_store::send_adds(std::vector<std::string> ids) {
    struct item {
        std::string id;
        std::string hub;
        std::string user;
    };
    std::vector<item> items;
    std::vector<std::string_view> hubs;
    std::vector<std::string_view> connections;
    std::vector<std::string_view> users;
    std::vector<long long> times;
    items.reserve(ids.size());
    hubs.reserve(ids.size());
    connections.reserve(ids.size());
    users.reserve(ids.size());
    times.reserve(ids.size());
    for (auto& id : ids) {
        const auto found = local_.find(id);
        if (found == local_.end()) {
            continue;  // removed meanwhile: its removal follows
        }
        const auto& entry = found->second;
        items.push_back({std::move(id), entry.hub, entry.user_id});
        hubs.emplace_back(entry.hub);
        users.emplace_back(entry.user_id);
        times.push_back(static_cast<long long>(entry.connected_at_ms));
    }
    if (items.empty()) {
        return;
    }
    for (const auto& it : items) {
        connections.emplace_back(it.id);
    }
    statement params;
    params.bytes(options_.key_prefix)
        .bytes(options_.instance)
        .number(options_.expiry.count())
        .text(hex_array(hubs))
        .text(hex_array(connections))
        .text(hex_array(users))
        .text(number_array(times));
    auto shared = std::make_shared<std::vector<item>>(std::move(items));
    const auto all_again = [this, shared] {
        for (const auto& it : *shared) {
            if (local_.contains(it.id)) {
                dirty_.insert(it.id);
            }
        }
    };
    const bool sent = send_now(sql_.add, params, [this, shared, all_again](const PGresult* r) {
        if (!succeeded(r) || PQnfields(r) != 2) {
            // Lost or failed: again after the next heartbeat.
            warn("connect", r);
            return all_again();
        }
        for (const auto& [index, code] : indexed_rows(r, shared->size())) {
            const auto& it = (*shared)[index];
            if (code == 1) {
                report(user_change{it.hub, it.user, true, it.id});
            } else if (local_.contains(it.id)) {
                dirty_.insert(it.id);  // this instance was not live: written again after
            }
        }
    });
    if (!sent) {
        all_again();
    }
}

void postgres_store::send_removes(std::vector<pending_remove> items) {
    std::vector<std::string_view> hubs;
    std::vector<std::string_view> connections;
    std::vector<std::string_view> users;
    hubs.reserve(items.size());
    connections.reserve(items.size());
    users.reserve(items.size());
    for (const auto& it : items) {
        hubs.emplace_back(it.hub);
        connections.emplace_back(it.id);
        users.emplace_back(it.user);
    }
    statement params;
    params.bytes(options_.key_prefix)
        .number(options_.expiry.count())
        .text(hex_array(hubs))
        .text(hex_array(connections))
        .text(hex_array(users));
    auto shared = std::make_shared<std::vector<pending_remove>>(std::move(items));
    const auto all_again = [this, shared] {
        for (const auto& it : *shared) {
            retry_later({it.hub, it.id, {}}, it.user);
        }
    };
    const bool sent = send_now(sql_.remove, params, [this, shared, all_again](const PGresult* r) {
        if (!succeeded(r) || PQnfields(r) != 1) {
            warn("disconnect", r);
            return all_again();
        }
        for (const auto& [index, code] : indexed_rows(r, shared->size())) {
            const auto& it = (*shared)[index];
            report(user_change{it.hub, it.user, false, it.id});
        }
    });
    if (!sent) {
        all_again();
    }
}

void postgres_store::write_group(const std::string& id, const std::string& hub,
                                 const std::string& user, std::uint64_t connected_at_ms,
                                 const std::string& group) {
    statement params;
    params.bytes(options_.key_prefix)
        .bytes(options_.instance)
        .number(options_.expiry.count())
        .bytes(hub)
        .bytes(id)
        .bytes(user)
        .bytes(group)
        .number(static_cast<long long>(connected_at_ms));
    const auto on_result = [this, id](const PGresult* r) {
        const auto answer = single_integer(r);
        if (answer != 0 && local_.contains(id)) {
            if (!answer) {
                warn("group join", r);
            }
            dirty_.insert(id);
        }
    };
    if (!send_after_removes(sql_.join, params, on_result) && local_.contains(id)) {
        dirty_.insert(id);
    }
}

void postgres_store::send_leave(const std::string& hub, const std::string& id,
                                const std::string& group) {
    statement params;
    params.bytes(options_.key_prefix).bytes(hub).bytes(group).bytes(id);
    const bool sent =
        send_after_removes(sql_.leave, params, [this, hub, id, group](const PGresult* r) {
            if (!succeeded(r)) {
                warn("group leave", r);
                retry_later({hub, id, group}, {});
            }
        });
    if (!sent) {
        retry_later({hub, id, group}, {});
    }
}

void postgres_store::retry_later(retry_key key, std::string user) {
    if (!running_) {
        return;
    }
    if (retries_.size() >= max_retries) {
        spdlog::warn("presence: {} removals wait for PostgreSQL already; one more dropped",
                     retries_.size());
        return;
    }
    retries_.emplace(std::move(key), std::move(user));
}

void postgres_store::connection_added(std::string_view hub, const connection_entry& entry) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), entry] {
        local_[entry.connection_id] =
            local_connection{hub, entry.user_id, entry.connected_at_ms, {}, 0};
        dirty_.erase(entry.connection_id);
        submit([this, id = entry.connection_id](bool up) {
            const auto found = local_.find(id);
            if (found == local_.end()) {
                return;  // removed while waiting
            }
            if (!up) {
                dirty_.insert(id);
                return;
            }
            write_connection(id, found->second);
        });
    });
}

void postgres_store::connection_removed(std::string_view hub, std::string_view connection_id,
                                        std::string_view user_id) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     user = std::string(user_id)] {
        local_.erase(id);
        dirty_.erase(id);
        submit([this, hub, id, user](bool up) {
            if (up) {
                queue_remove(hub, id, user);
            } else {
                retry_later({hub, id, {}}, user);
            }
        });
    });
}

void postgres_store::group_joined(std::string_view hub, std::string_view connection_id,
                                  std::string_view user_id, std::string_view group) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     user = std::string(user_id), group = std::string(group)] {
        retries_.erase(retry_key{hub, id, group});
        if (const auto found = local_.find(id); found != local_.end()) {
            found->second.groups.insert(group);
        }
        submit([this, hub, id, user, group](bool up) {
            const auto found = local_.find(id);
            if (found == local_.end()) {
                // Not (or no longer) a connection of this instance: written as it is, not
                // mirrored.
                if (up) {
                    write_group(id, hub, user, 0, group);
                }
                return;
            }
            if (!up) {
                dirty_.insert(id);
                return;
            }
            write_group(id, hub, found->second.user_id, found->second.connected_at_ms, group);
        });
    });
}

void postgres_store::group_left(std::string_view hub, std::string_view connection_id,
                                std::string_view group) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     group = std::string(group)] {
        if (const auto found = local_.find(id); found != local_.end()) {
            found->second.groups.erase(group);
        }
        submit([this, hub, id, group](bool up) {
            if (up) {
                send_leave(hub, id, group);
            } else {
                retry_later({hub, id, group}, {});
            }
        });
    });
}

// --- queries ------------------------------------------------------------------------------

namespace {
int page_limit(std::size_t limit) {
    return static_cast<int>(std::clamp<std::size_t>(limit, 1, max_page));
}
}  // namespace

void postgres_store::online_users(std::string_view hub, std::string cursor, std::size_t limit,
                                  page_callback<std::string> done) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), cursor = std::move(cursor),
                                     limit = page_limit(limit), done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix)
            .bytes(hub)
            .number(options_.expiry.count())
            .bytes(cursor)
            .number(limit);
        query(sql_.users, std::move(params), [done, limit](const PGresult* r) {
            if (!succeeded(r) || PQnfields(r) != 2) {
                return done(unavailable());
            }
            page<std::string> result;
            const int rows = PQntuples(r);
            for (int row = 0; row < rows; ++row) {
                if (integer_at(r, row, 1) == 1) {
                    result.entries.push_back(bytes_at(r, row, 0));
                }
            }
            if (rows == limit) {
                result.next = bytes_at(r, rows - 1, 0);
            }
            done(std::move(result));
        });
    });
}

namespace {
void entries_answer(const PGresult* r, int limit, const page_callback<connection_entry>& done) {
    if (!succeeded(r) || PQnfields(r) != 5) {
        return done(unavailable());
    }
    page<connection_entry> result;
    const int rows = PQntuples(r);
    for (int row = 0; row < rows; ++row) {
        if (integer_at(r, row, 4) != 1) {
            continue;  // its instance is dead: as good as deleted
        }
        connection_entry entry;
        entry.connection_id = bytes_at(r, row, 0);
        entry.instance = bytes_at(r, row, 1);
        entry.connected_at_ms = static_cast<std::uint64_t>(integer_at(r, row, 2).value_or(0));
        entry.user_id = bytes_at(r, row, 3);
        result.entries.push_back(std::move(entry));
    }
    if (rows == limit) {
        result.next = bytes_at(r, rows - 1, 0);
    }
    done(std::move(result));
}
}  // namespace

void postgres_store::user_connections(std::string_view hub, std::string_view user_id,
                                      std::string cursor, std::size_t limit,
                                      page_callback<connection_entry> done) {
    boost::asio::dispatch(
        context_, [this, hub = std::string(hub), user = std::string(user_id),
                   cursor = std::move(cursor), limit = page_limit(limit), done = std::move(done)] {
            statement params;
            params.bytes(options_.key_prefix)
                .bytes(hub)
                .number(options_.expiry.count())
                .bytes(user)
                .bytes(cursor)
                .number(limit);
            query(sql_.user_connections, std::move(params),
                  [done, limit](const PGresult* r) { entries_answer(r, limit, done); });
        });
}

void postgres_store::group_members(std::string_view hub, std::string_view group, std::string cursor,
                                   std::size_t limit, page_callback<connection_entry> done) {
    boost::asio::dispatch(
        context_, [this, hub = std::string(hub), group = std::string(group),
                   cursor = std::move(cursor), limit = page_limit(limit), done = std::move(done)] {
            statement params;
            params.bytes(options_.key_prefix)
                .bytes(hub)
                .number(options_.expiry.count())
                .bytes(group)
                .bytes(cursor)
                .number(limit);
            query(sql_.group_members, std::move(params),
                  [done, limit](const PGresult* r) { entries_answer(r, limit, done); });
        });
}

void postgres_store::is_online(std::string_view hub, std::string_view user_id,
                               std::function<void(expected<bool>)> done) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), user = std::string(user_id),
                                     done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix).bytes(hub).number(options_.expiry.count()).bytes(user);
        query(sql_.online, std::move(params), [done](const PGresult* r) {
            const auto value = single_integer(r);
            if (!value) {
                return done(unavailable());
            }
            done(*value == 1);
        });
    });
}

// --- shared state -------------------------------------------------------------------------

void postgres_store::state_get(std::string key, value_callback done) {
    boost::asio::dispatch(context_, [this, key = std::move(key), done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix).bytes(key);
        query(sql_.state_get, std::move(params), [done](const PGresult* r) {
            if (!succeeded(r) || PQnfields(r) != 1) {
                return done(state_unavailable());
            }
            done(PQntuples(r) == 0 ? std::nullopt : std::optional<std::string>(bytes_at(r, 0, 0)));
        });
    });
}

void postgres_store::state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                               std::function<void(expected<void>)> done) {
    boost::asio::dispatch(context_, [this, key = std::move(key), value = std::move(value), ttl,
                                     done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix).bytes(key).bytes(value).number(ttl.count());
        const auto answer = [done](const PGresult* r) {
            if (!done) {
                return;
            }
            if (!succeeded(r)) {
                return done(state_unavailable());
            }
            done({});
        };
        query(sql_.state_set, std::move(params), answer);
    });
}

void postgres_store::state_erase(std::string key, flag_callback done) {
    boost::asio::dispatch(context_, [this, key = std::move(key), done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix).bytes(key);
        const auto answer = [done](const PGresult* r) {
            if (!done) {
                return;
            }
            const auto removed = single_integer(r);
            if (!removed) {
                return done(state_unavailable());
            }
            done(*removed > 0);
        };
        query(sql_.state_erase, std::move(params), answer);
    });
}

void postgres_store::state_compare_and_set(std::string key, std::optional<std::string> expected,
                                           std::string value, std::chrono::milliseconds ttl,
                                           flag_callback done) {
    boost::asio::dispatch(context_, [this, key = std::move(key), expected = std::move(expected),
                                     value = std::move(value), ttl, done = std::move(done)] {
        statement params;
        params.bytes(options_.key_prefix).bytes(key).bytes(value).number(ttl.count());
        if (expected) {
            params.bytes(*expected);
        }
        const auto answer = [done](const PGresult* r) {
            if (!done) {
                return;
            }
            if (!succeeded(r)) {
                return done(state_unavailable());
            }
            done(PQntuples(r) == 1);
        };
        const auto& sql = expected ? sql_.state_replace_if : sql_.state_insert_if_absent;
        query(sql, std::move(params), answer);
    });
}

}  // namespace switchboard::presence::postgres
