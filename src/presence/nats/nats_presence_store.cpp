#include "presence/nats/nats_presence_store.hpp"

#include "presence/memory/memory_presence_store.hpp"
#include "presence/nats/presence_layout.hpp"
#include "routing/nats/cnats_options.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace switchboard::presence::nats {

namespace {

using steady = std::chrono::steady_clock;

// Index entries of one dead incarnation a heartbeat reaps at most: bounds the time the worker
// spends away from updates; more waits for the next heartbeat, which then follows at once.
constexpr std::size_t reap_batch = 1000;
// Compare-and-set rounds before an update gives up: each lost round means another instance
// changed the same record meanwhile, so 64 covers any realistic contention on one user.
constexpr int cas_attempts = 64;
// Delete markers one sweep purges at most (one request each, ~0.2 ms on a LAN): about two
// seconds of the worker; more waits for the next sweep.
constexpr std::size_t max_sweep_purges = 10'000;
// Record changes per batch at most: 512 keeps one round's replies (~100 KB) small and its
// latency to a few milliseconds, while a burst of thousands of connects takes few rounds.
constexpr std::size_t max_batch = 512;

std::int64_t system_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t to_ns(std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

void check(natsStatus status, const char* what) {
    routing::nats::check(status, "NATS presence store", what);
}

// The cnats options of the backplane's connection string (presence has a connection of its own so
// that KV round trips never queue behind the bus's traffic).
natsOptions* make_options(const routing::nats::connection_options& c,
                          std::chrono::milliseconds timeout) {
    natsOptions* opts = nullptr;
    check(natsOptions_Create(&opts), "options");
    try {
        routing::nats::apply_connection(opts, c, "NATS presence store");
        const auto name = c.name + " presence";
        check(natsOptions_SetName(opts, name.c_str()), "name");
        check(natsOptions_SetTimeout(opts, timeout.count()), "timeout");
        check(natsOptions_SetMaxReconnect(opts, -1), "reconnect");  // -1: for ever
        // Connects in the background when the first attempt fails: the worker retries its
        // bucket at every heartbeat meanwhile.
        check(natsOptions_SetRetryOnFailedConnect(opts, true, nullptr, nullptr), "retry");
    } catch (...) {
        natsOptions_Destroy(opts);
        throw;
    }
    return opts;
}

// The last message of a key: its revision (0: never written), and whether it holds a value
// (a delete marker does not).
struct kv_read {
    std::uint64_t revision = 0;
    bool present = false;
    std::string value;
    std::int64_t created_ns = 0;
};

enum class write_status { ok, conflict, failed };

// A connect (add) or disconnect of one user's connection, waiting for its batch.
struct user_op {
    std::string hub;
    std::string user;
    std::string connection;
    bool add = false;
    std::string incarnation;
    std::uint64_t connected_at_ms = 0;
};

struct listed {
    std::string key;
    std::string value;
    std::uint64_t revision = 0;
    std::int64_t created_ns = 0;
    bool present = true;  // false: a delete marker
};

// Why a write failed: the stream is gone (the bucket was deleted, or JetStream lost it).
bool stream_gone(natsStatus status, jsErrCode code) {
    return status == NATS_NO_RESPONDERS || code == JSStreamNotFoundErr;
}

error unavailable() {
    return make_error("presence store unavailable");
}

}  // namespace

class nats_store::worker {
public:
    // This instance's connections, to write them again under a new incarnation.
    struct local_connection {
        std::string hub;
        std::string connection_id;
        std::string user_id;
        std::uint64_t connected_at_ms = 0;
        std::set<std::string> groups;
    };

    worker(boost::asio::io_context& context, nats_store_options nats, store_options options)
        : context_(context),
          nats_(std::move(nats)),
          options_(std::move(options)),
          keys_(options_.key_prefix),
          incarnation_(options_.instance),
          stream_("KV_" + nats_.bucket),
          subject_prefix_("$KV." + nats_.bucket + "."),
          nats_options_(make_options(nats_.connection, nats_.request_timeout)) {}

    ~worker() {
        stop();
        if (inbox_subscription_ != nullptr) {
            natsSubscription_Destroy(inbox_subscription_);
        }
        if (kv_ != nullptr) {
            kvStore_Destroy(kv_);
        }
        if (js_ != nullptr) {
            jsCtx_Destroy(js_);
        }
        if (auto* nc = connection_.exchange(nullptr); nc != nullptr) {
            natsConnection_Destroy(nc);
        }
        natsOptions_Destroy(nats_options_);
    }
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    void start(change_handler on_change) {
        std::lock_guard lock(mutex_);
        if (thread_.joinable() || stopping_) {
            return;
        }
        on_change_ = std::move(on_change);
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                return;
            }
            stopping_ = true;
        }
        wake_.notify_one();
        if (auto* nc = connection_.load(); nc != nullptr) {
            natsConnection_Close(nc);  // ends the KV call in progress
        }
        if (thread_.joinable()) {
            thread_.join();
        }
        if (fallback_) {
            fallback_->stop();
        }
        connected_.store(false, std::memory_order_relaxed);
    }

    // Any thread. A job that does not fit is dropped: an update is in the mirror already, so
    // the worker is told to write everything again; a query is refused (its callback gets an
    // error).
    void push(std::function<void()> job, bool update, const std::function<void()>& refuse = {}) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                return;
            }
            if (jobs_.size() < nats_.max_queued_jobs) {
                jobs_.push_back(queued_job{std::move(job), update});
                wake_.notify_one();
                return;
            }
            overflowed_ = overflowed_ || update;
        }
        if (refuse) {
            refuse();
        }
    }

    // Any thread: what a dropped query's callback gets instead of an answer.
    template <class Callback, class Value>
    std::function<void()> refusal(const Callback& done, Value value) {
        if (!done) {
            return {};
        }
        return [this, done, value = std::move(value)] { post(done, value); };
    }

    // Any thread: the mirror changes at once, the bucket when the worker gets to it.
    void connection_added(const std::string& hub, const connection_entry& entry) {
        local_connection snapshot{
            hub, entry.connection_id, entry.user_id, entry.connected_at_ms, {}};
        std::lock_guard lock(mirror_mutex_);  // with the push: see cover_queued_updates
        mirror_[entry.connection_id] = snapshot;
        push([this, snapshot = std::move(snapshot)] { add(snapshot); }, true);
    }

    void connection_removed(const std::string& hub, const std::string& id,
                            const std::string& user) {
        std::vector<std::string> groups;
        std::lock_guard lock(mirror_mutex_);
        if (const auto found = mirror_.find(id); found != mirror_.end()) {
            groups.assign(found->second.groups.begin(), found->second.groups.end());
            mirror_.erase(found);
        }
        push([this, hub, id, user, groups = std::move(groups)] { remove(hub, id, user, groups); },
             true);
    }

    void group_joined(const std::string& hub, const std::string& id, const std::string& user,
                      const std::string& group) {
        std::optional<local_connection> snapshot;
        std::lock_guard lock(mirror_mutex_);
        if (const auto found = mirror_.find(id); found != mirror_.end()) {
            found->second.groups.insert(group);
            snapshot = found->second;
        }
        push([this, hub, id, user, group,
              snapshot = std::move(snapshot)] { join(hub, id, user, group, snapshot); },
             true);
    }

    void group_left(const std::string& hub, const std::string& id, const std::string& group) {
        std::optional<local_connection> snapshot;
        std::lock_guard lock(mirror_mutex_);
        if (const auto found = mirror_.find(id); found != mirror_.end()) {
            found->second.groups.erase(group);
            snapshot = found->second;
        }
        push([this, hub, id, group,
              snapshot = std::move(snapshot)] { leave(hub, id, group, snapshot); },
             true);
    }

    [[nodiscard]] bool connected() const {
        if (!connected_.load(std::memory_order_relaxed)) {
            return false;
        }
        auto* nc = connection_.load();
        return nc == nullptr || natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
    }

    // ---- jobs (worker thread) ----

    void add(const local_connection& entry) {
        if (fallback_) {
            return fallback_->connection_added(
                entry.hub,
                connection_entry{entry.connection_id, entry.user_id, {}, entry.connected_at_ms});
        }
        write_connection(entry);
    }

    void remove(const std::string& hub, const std::string& id, const std::string& user,
                const std::vector<std::string>& groups) {
        if (fallback_) {
            return fallback_->connection_removed(hub, id, user);
        }
        if (!ready()) {
            dirty_ = true;
            return;
        }
        for (const auto& group : groups) {
            erase_async(keys_.member(hub, group, id));
        }
        erase_async(keys_.index(incarnation_, hub, id));
        if (!user.empty()) {
            queue_user_op(user_op{hub, user, id, false, {}, 0});
        }
    }

    void join(const std::string& hub, const std::string& id, const std::string& user,
              const std::string& group, const std::optional<local_connection>& local) {
        if (fallback_) {
            return fallback_->group_joined(hub, id, user, group);
        }
        if (!local) {
            // Not (or no longer) a connection of this instance: written as it is, not mirrored.
            if (ready()) {
                put_async(keys_.member(hub, group, id),
                          encode(member_entry{incarnation_, 0, user}));
            }
            return;
        }
        write_group(*local, group);
        write_index(*local);
    }

    void leave(const std::string& hub, const std::string& id, const std::string& group,
               const std::optional<local_connection>& local) {
        if (fallback_) {
            return fallback_->group_left(hub, id, group);
        }
        if (!ready()) {
            dirty_ = true;
            return;
        }
        erase_async(keys_.member(hub, group, id));
        if (local) {
            write_index(*local);
        }
    }

    void online_users(const std::string& hub, const std::string& cursor, std::size_t limit,
                      page_callback<std::string> done) {
        if (fallback_) {
            return fallback_->online_users(hub, cursor, limit, std::move(done));
        }
        auto all = query_list(keys_.users(hub));
        if (!all) {
            return post(std::move(done), expected<page<std::string>>(unavailable()));
        }
        std::vector<std::string> users;
        for (const auto& item : *all) {
            const auto record = decode_user(item.value);
            if (record && record->user > cursor && any_alive(*record)) {
                users.push_back(record->user);
            }
        }
        post(std::move(done), expected<page<std::string>>(cut(std::move(users), limit)));
    }

    void user_connections(const std::string& hub, const std::string& user,
                          const std::string& cursor, std::size_t limit,
                          page_callback<connection_entry> done) {
        if (fallback_) {
            return fallback_->user_connections(hub, user, cursor, limit, std::move(done));
        }
        const auto read = query_read(keys_.user(hub, user));
        if (!read) {
            return post(std::move(done), expected<page<connection_entry>>(unavailable()));
        }
        std::vector<connection_entry> entries;
        if (const auto record = read->present ? decode_user(read->value) : std::nullopt) {
            for (const auto& c : record->connections) {
                if (c.id > cursor && alive(c.incarnation)) {
                    entries.push_back({c.id, user, c.incarnation, c.connected_at_ms});
                }
            }
        }
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return a.connection_id < b.connection_id; });
        post(std::move(done), expected<page<connection_entry>>(cut(std::move(entries), limit)));
    }

    void group_members(const std::string& hub, const std::string& group, const std::string& cursor,
                       std::size_t limit, page_callback<connection_entry> done) {
        if (fallback_) {
            return fallback_->group_members(hub, group, cursor, limit, std::move(done));
        }
        auto all = query_list(keys_.members(hub, group));
        if (!all) {
            return post(std::move(done), expected<page<connection_entry>>(unavailable()));
        }
        // The connection id is the key's last token, encoded: members carry no id of their
        // own, so the page's order and cursor follow the encoded keys.
        std::vector<std::pair<std::string, connection_entry>> found;
        const auto prefix_size = keys_.members(hub, group).size() - 1;  // without the '*'
        for (auto& item : *all) {
            const auto member = decode_member(item.value);
            if (!member || item.key.size() < prefix_size || !alive(member->incarnation)) {
                continue;
            }
            auto token = item.key.substr(prefix_size);
            if (token > cursor) {
                found.emplace_back(std::move(token),
                                   connection_entry{decode_token(token), member->user,
                                                    member->incarnation, member->connected_at_ms});
            }
        }
        std::sort(found.begin(), found.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        page<connection_entry> result;
        for (auto& [token, entry] : found) {
            if (result.entries.size() == limit) {
                break;
            }
            result.next = token;
            result.entries.push_back(std::move(entry));
        }
        if (found.size() <= limit) {
            result.next.clear();
        }
        post(std::move(done), expected<page<connection_entry>>(std::move(result)));
    }

    void is_online(const std::string& hub, const std::string& user,
                   std::function<void(expected<bool>)> done) {
        if (fallback_) {
            return fallback_->is_online(hub, user, std::move(done));
        }
        const auto read = query_read(keys_.user(hub, user));
        if (!read) {
            return post(std::move(done), expected<bool>(unavailable()));
        }
        const auto record = read->present ? decode_user(read->value) : std::nullopt;
        post(std::move(done), expected<bool>(record && any_alive(*record)));
    }

    void state_get(const std::string& key, value_callback done) {
        if (fallback_) {
            return fallback_->state_get(key, std::move(done));
        }
        const auto read = query_read(keys_.state(key));
        if (!read) {
            return post(std::move(done), expected<std::optional<std::string>>(unavailable()));
        }
        auto value = live_state(*read, keys_.state(key));
        post(std::move(done),
             expected<std::optional<std::string>>(
                 value ? std::optional<std::string>(std::move(value->value)) : std::nullopt));
    }

    void state_set(const std::string& key, std::string value, std::chrono::milliseconds ttl,
                   std::function<void(expected<void>)> done) {
        if (fallback_) {
            return fallback_->state_set(key, std::move(value), ttl, std::move(done));
        }
        const bool ok =
            ready() && write(keys_.state(key), encode(state_value{deadline(ttl), std::move(value)}),
                             std::nullopt) == write_status::ok;
        if (done) {
            post(std::move(done), ok ? expected<void>() : expected<void>(unavailable()));
        }
    }

    void state_erase(const std::string& key, flag_callback done) {
        if (fallback_) {
            return fallback_->state_erase(key, std::move(done));
        }
        const auto name = keys_.state(key);
        for (int attempt = 0; attempt < cas_attempts; ++attempt) {
            const auto read = query_read(name);
            if (!read) {
                break;
            }
            if (!live_state(*read, name)) {
                return post_flag(done, false);
            }
            const auto status = erase(name, read->revision);
            if (status == write_status::ok) {
                return post_flag(done, true);
            }
            if (status == write_status::failed) {
                break;
            }
        }
        if (done) {
            post(std::move(done), expected<bool>(unavailable()));
        }
    }

    void state_compare_and_set(const std::string& key,
                               const std::optional<std::string>& expected_value,
                               const std::string& value, std::chrono::milliseconds ttl,
                               flag_callback done) {
        if (fallback_) {
            return fallback_->state_compare_and_set(key, expected_value, value, ttl,
                                                    std::move(done));
        }
        const auto name = keys_.state(key);
        // One read and one conditional write: a conflict means the key changed between them,
        // so the comparison is made again on what it holds now.
        for (int attempt = 0; attempt < cas_attempts; ++attempt) {
            const auto read = query_read(name);
            if (!read) {
                break;
            }
            const auto current = live_state(*read, name);
            const bool matches = expected_value ? (current && current->value == *expected_value)
                                                : !current.has_value();
            if (!matches) {
                return post_flag(done, false);
            }
            const auto status =
                write(name, encode(state_value{deadline(ttl), value}), read->revision);
            if (status == write_status::ok) {
                return post_flag(done, true);
            }
            if (status == write_status::failed) {
                break;
            }
        }
        if (done) {
            post(std::move(done), expected<bool>(unavailable()));
        }
    }

private:
    // What this worker knows of another incarnation's heartbeat.
    struct peer {
        bool exists = false;
        std::int64_t created_ns = 0;  // server clock
        steady::time_point checked;
    };

    template <class Callback, class Value>
    void post(Callback done, Value value) {
        boost::asio::post(context_, [done = std::move(done), value = std::move(value)]() mutable {
            done(std::move(value));
        });
    }
    void post_flag(const flag_callback& done, bool value) {
        if (done) {
            post(done, expected<bool>(value));
        }
    }
    void report(user_change change) {
        if (on_change_) {
            boost::asio::post(
                context_, [handler = on_change_, change = std::move(change)] { handler(change); });
        }
    }

    template <class T>
    static page<T> cut(std::vector<T> all, std::size_t limit) {
        if constexpr (std::is_same_v<T, std::string>) {
            std::sort(all.begin(), all.end());
        }
        page<T> result;
        if (all.size() > limit) {
            all.resize(limit);
            if constexpr (std::is_same_v<T, std::string>) {
                result.next = all.back();
            } else {
                result.next = all.back().connection_id;
            }
        }
        result.entries = std::move(all);
        return result;
    }

    [[nodiscard]] std::uint64_t deadline(std::chrono::milliseconds ttl) const {
        if (ttl.count() <= 0) {
            return 0;
        }
        return static_cast<std::uint64_t>((server_now_ns() + to_ns(ttl)) / 1'000'000);
    }

    // The value of a state key unless absent or past its deadline (an expired value is
    // deleted on the way, conditionally, so a newer write survives).
    std::optional<state_value> live_state(const kv_read& read, const std::string& name) {
        if (!read.present) {
            return std::nullopt;
        }
        auto value = decode_state(read.value);
        if (!value) {
            return std::nullopt;
        }
        if (value->deadline_ms != 0 &&
            static_cast<std::int64_t>(value->deadline_ms) * 1'000'000 <= server_now_ns()) {
            erase(name, read.revision);
            return std::nullopt;
        }
        return value;
    }

    [[nodiscard]] std::int64_t server_now_ns() const { return system_ns() + offset_ns_; }

    std::map<std::string, local_connection> mirror() {
        std::lock_guard lock(mirror_mutex_);
        return mirror_;
    }

    // The mirror, with every update queued so far marked as part of it (a memory store that
    // takes the copy must not take them again). Callers change the mirror and queue under
    // one lock, so no update is in one and not the other.
    std::map<std::string, local_connection> cover_queued_updates() {
        std::lock_guard mirror_lock(mirror_mutex_);
        std::lock_guard lock(mutex_);
        for (auto& job : jobs_) {
            job.covered = job.update;
        }
        return mirror_;
    }

    // ---- the loop ----

    void run() {
        auto* nc = static_cast<natsConnection*>(nullptr);
        const auto status = natsConnection_Connect(&nc, nats_options_);
        if (status == NATS_OK || status == NATS_NOT_YET_CONNECTED) {
            connection_.store(nc);
        } else {
            spdlog::error("presence: cannot connect to NATS: {}", natsStatus_GetText(status));
        }
        {
            std::lock_guard lock(mutex_);
            if (stopping_ && nc != nullptr) {
                natsConnection_Close(nc);
            }
        }
        auto next_beat = steady::now();
        for (;;) {
            queued_job job;
            bool overflowed = false;
            {
                std::unique_lock lock(mutex_);
                if (batch_.empty()) {
                    wake_.wait_until(lock, next_beat, [&] { return stopping_ || !jobs_.empty(); });
                }
                if (stopping_) {
                    return;
                }
                if (!jobs_.empty() && steady::now() < next_beat) {
                    job = std::move(jobs_.front());
                    jobs_.pop_front();
                }
                overflowed = std::exchange(overflowed_, false);
            }
            if (overflowed) {
                spdlog::warn(
                    "presence: updates arrived faster than NATS took them; writing "
                    "every local entry again");
                dirty_ = true;
            }
            if (job.run && job.update) {
                if (job.covered && fallback_) {
                    continue;
                }
                job.run();  // its record change joins the batch
                continue;
            }
            // A query reads what came before it; a heartbeat or an idle moment sends it too.
            run_batch();
            if (job.run) {
                job.run();
                continue;
            }
            if (steady::now() < next_beat) {
                continue;
            }
            const bool more = heartbeat();
            // More to reap: soon, yet leaving the worker to the updates in between.
            next_beat = steady::now() +
                        (more ? options_.heartbeat_interval / 10 : options_.heartbeat_interval);
        }
    }

    // True once the bucket is bound. Binds or creates it; on a server without JetStream,
    // turns into a memory store for good (with an error in the log).
    bool ready() {
        if (fallback_) {
            return false;
        }
        // While cnats reconnects, calls fail at once rather than each wait out its timeout:
        // what they miss is written again once the heartbeat gets through.
        auto* nc = connection_.load();
        if (nc == nullptr || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) {
            return false;
        }
        if (kv_ != nullptr) {
            return true;
        }
        if (js_ == nullptr) {
            jsOptions js_options;
            jsOptions_Init(&js_options);
            js_options.Wait = nats_.request_timeout.count();
            js_options.PublishAsync.MaxPending = 4096;  // cnats' default, made explicit
            js_options.PublishAsync.ErrHandler = on_async_error;
            js_options.PublishAsync.ErrHandlerClosure = &async_failed_;
            if (natsConnection_JetStream(&js_, nc, &js_options) != NATS_OK) {
                js_ = nullptr;
                return false;
            }
        }
        kvStore* kv = nullptr;
        if (js_KeyValue(&kv, js_, nats_.bucket.c_str()) != NATS_OK) {
            kvConfig config;
            kvConfig_Init(&config);
            config.Bucket = nats_.bucket.c_str();
            config.Description = "Switchboard presence (docs/presence.md)";
            config.History = 1;
            config.Replicas = nats_.replicas;
            const auto status = js_CreateKeyValue(&kv, js_, &config);
            if (status != NATS_OK) {
                kv = nullptr;
                no_jetstream(status);
                return false;
            }
        }
        kv_ = kv;
        connected_.store(true, std::memory_order_relaxed);
        spdlog::info("presence: shared in NATS KV bucket {} as {}", nats_.bucket, incarnation_);
        return true;
    }

    // After a failed bucket setup: a server that answers no JetStream request has none.
    void no_jetstream(natsStatus status) {
        jsAccountInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const auto probe = js_GetAccountInfo(&info, js_, nullptr, &code);
        jsAccountInfo_Destroy(info);
        if (probe == NATS_NO_RESPONDERS || code == JSNotEnabledErr ||
            code == JSNotEnabledForAccountErr) {
            spdlog::error(
                "presence: the NATS server has no JetStream (start nats-server with -js); "
                "presence stays per instance: each instance answers for its own connections");
            fallback_ = std::make_unique<memory_store>(context_, options_.instance);
            fallback_->start(on_change_);
            connected_.store(true, std::memory_order_relaxed);
            for (const auto& [id, entry] : cover_queued_updates()) {
                fallback_->connection_added(
                    entry.hub, connection_entry{id, entry.user_id, {}, entry.connected_at_ms});
                for (const auto& group : entry.groups) {
                    fallback_->group_joined(entry.hub, id, entry.user_id, group);
                }
            }
            return;
        }
        const auto now = steady::now();
        if (now - last_setup_warning_ > std::chrono::seconds(10)) {
            last_setup_warning_ = now;
            spdlog::warn("presence: NATS KV bucket {} not ready yet: {}", nats_.bucket,
                         natsStatus_GetText(status));
        }
    }

    // One heartbeat: proves this incarnation alive (or starts a new one if it was taken for
    // dead), then reaps one dead incarnation. True when more of it is left to reap.
    bool heartbeat() {
        if (async_failed_.exchange(false)) {
            dirty_ = true;  // a pipelined write was refused: its entry may be missing
        }
        if (!ready()) {
            return false;
        }
        const auto now = steady::now();
        bool renew = dirty_;
        if (!renew) {
            const auto status = write(keys_.heartbeat(incarnation_), {}, heartbeat_revision_);
            if (status == write_status::failed) {
                return false;
            }
            if (status == write_status::conflict) {
                spdlog::warn("presence: this instance was taken for dead (its heartbeat is gone)");
                renew = true;
            } else if (announced_ &&
                       now - last_beat_ >= options_.expiry - options_.heartbeat_interval) {
                spdlog::warn(
                    "presence: no heartbeat for {} ms; this instance may have been "
                    "taken for dead",
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - last_beat_)
                        .count());
                renew = true;
            } else {
                last_beat_ = now;
                announced_ = true;
            }
        }
        if (renew && !start_incarnation()) {
            return false;
        }
        const bool more = reap();
        if (!more && now >= next_sweep_) {
            next_sweep_ = now + nats_.sweep_interval;
            sweep();
        }
        return more;
    }

    // Deletes leave a marker per key (connection ids are never reused, so markers would pile
    // up and every listing would wade through them): each marker is purged up to its own
    // sequence, so a value written after it survives. Values of shared state past their
    // deadline are deleted the same way. Bounded per sweep; the next one takes the rest.
    void sweep() {
        auto all = list(keys_.root + ".>", SIZE_MAX, true);
        if (!all) {
            return;
        }
        std::size_t purged = 0;
        const auto state_prefix = keys_.state("");
        const auto state_root = state_prefix.substr(0, state_prefix.size() - 1);  // without '='
        for (const auto& item : *all) {
            if (purged == max_sweep_purges) {
                break;
            }
            if (item.present) {
                if (item.key.starts_with(state_root)) {
                    const auto value = decode_state(item.value);
                    if (value && value->deadline_ms != 0 &&
                        static_cast<std::int64_t>(value->deadline_ms) * 1'000'000 <=
                            server_now_ns()) {
                        erase(item.key, item.revision);
                    }
                }
                continue;
            }
            const auto subject = subject_prefix_ + item.key;
            jsOptions options;
            jsOptions_Init(&options);
            options.Wait = nats_.request_timeout.count();
            options.Stream.Purge.Subject = subject.c_str();
            options.Stream.Purge.Sequence = item.revision + 1;
            if (js_PurgeStream(js_, stream_.c_str(), &options, nullptr) != NATS_OK) {
                return;
            }
            ++purged;
        }
    }

    // Continues under a new incarnation (unless the current one never wrote anything) and
    // writes every local entry again; the old incarnation's entries age out and are reaped.
    bool start_incarnation() {
        if (announced_ || heartbeat_revision_ != 0) {
            ++generation_;
            incarnation_ = options_.instance + "~" + std::to_string(generation_);
            heartbeat_revision_ = 0;
        }
        dirty_ = false;
        if (write(keys_.heartbeat(incarnation_), {}, heartbeat_revision_) != write_status::ok) {
            dirty_ = true;
            return false;
        }
        announced_ = true;
        last_beat_ = steady::now();
        const auto local = mirror();
        if (!local.empty()) {
            spdlog::info("presence: writing {} connection(s) again as {}", local.size(),
                         incarnation_);
        }
        for (const auto& [id, entry] : local) {
            write_connection(entry);
            for (const auto& group : entry.groups) {
                write_group(entry, group);
            }
        }
        run_batch();
        return true;
    }

    // Lists heartbeats, learns the server's clock from this incarnation's own, and reaps one
    // dead incarnation a bounded batch at a time. True when it has more.
    bool reap() {
        auto beats = list(keys_.heartbeats(), SIZE_MAX);
        if (!beats) {
            return false;
        }
        const auto own = keys_.heartbeat(incarnation_);
        const auto received = system_ns();
        for (const auto& beat : *beats) {
            if (beat.key == own) {
                offset_ns_ = beat.created_ns - received;
            }
        }
        const auto prefix_size = keys_.heartbeats().size() - 1;
        const auto checked = steady::now();
        std::unordered_map<std::string, peer> peers;
        const listed* dead = nullptr;
        std::string dead_incarnation;
        for (const auto& beat : *beats) {
            const auto incarnation = decode_token(std::string_view(beat.key).substr(prefix_size));
            peers[incarnation] = peer{true, beat.created_ns, checked};
            if (dead == nullptr && beat.key != own &&
                beat.created_ns < server_now_ns() - to_ns(options_.expiry)) {
                dead = &beat;
                dead_incarnation = incarnation;
            }
        }
        peers_ = std::move(peers);
        if (dead == nullptr) {
            return false;
        }
        // Markers too: the batch is full (more to come) only by what the listing holds.
        auto entries = list(keys_.index_of(dead_incarnation), reap_batch + 1, true);
        if (!entries) {
            return false;
        }
        std::size_t done = 0;
        for (const auto& item : *entries) {
            if (done++ == reap_batch) {
                break;
            }
            if (!item.present) {
                continue;
            }
            const auto entry = decode_index(item.value);
            if (entry && !reap_connection(dead_incarnation, *entry)) {
                return false;
            }
            erase_async(item.key);
        }
        if (entries->size() > reap_batch) {
            return true;
        }
        flush();
        erase(dead->key, dead->revision);  // fails, rightly, if it came back meanwhile
        return false;
    }

    bool reap_connection(const std::string& dead, const index_entry& entry) {
        for (const auto& group : entry.groups) {
            const auto key = keys_.member(entry.hub, group, entry.connection);
            const auto read = read_key(key);
            if (!read) {
                return false;
            }
            const auto member = read->present ? decode_member(read->value) : std::nullopt;
            if (member && member->incarnation == dead) {
                erase(key, read->revision);
            }
        }
        if (entry.user.empty()) {
            return true;
        }
        // Removes the connection only while the dead incarnation holds it (a renewed instance
        // may have written it again under its new one).
        const auto key = keys_.user(entry.hub, entry.user);
        const auto read = read_key(key);
        if (!read) {
            return false;
        }
        const auto record = read->present ? decode_user(read->value) : std::nullopt;
        const bool held =
            record &&
            std::any_of(record->connections.begin(), record->connections.end(), [&](const auto& c) {
                return c.id == entry.connection && c.incarnation == dead;
            });
        if (!held) {
            return true;
        }
        const user_op op{entry.hub, entry.user, entry.connection, false, {}, 0};
        const auto changes = update_user(key, {&op});
        if (!changes) {
            return false;
        }
        for (const auto& change : *changes) {
            report(user_change{change.hub, change.user_id, change.online, {}});
        }
        return true;
    }

    // ---- liveness ----

    bool alive(const std::string& incarnation) {
        if (incarnation == incarnation_) {
            return true;
        }
        const auto horizon = server_now_ns() - to_ns(options_.expiry);
        const auto now = steady::now();
        auto found = peers_.find(incarnation);
        const bool fresh =
            found != peers_.end() && now - found->second.checked < options_.heartbeat_interval / 2;
        if (found != peers_.end() && (found->second.created_ns >= horizon || fresh)) {
            return found->second.exists && found->second.created_ns >= horizon;
        }
        // Unknown, or dead by what this worker last saw: asked again (at most every half
        // heartbeat per incarnation), so a stale view never hides a live instance.
        const auto read = read_key(keys_.heartbeat(incarnation));
        if (!read) {
            return true;  // cannot tell: shown rather than hidden
        }
        auto& known = peers_[incarnation];
        known = peer{read->present, read->created_ns, now};
        return known.exists && known.created_ns >= horizon;
    }

    bool any_alive(const user_record& record) {
        return std::any_of(record.connections.begin(), record.connections.end(),
                           [&](const auto& c) { return alive(c.incarnation); });
    }

    // ---- writes of this instance's entries ----

    void write_connection(const local_connection& entry) {
        if (!ready()) {
            dirty_ = true;
            return;
        }
        write_index(entry);
        if (entry.user_id.empty()) {
            return;
        }
        queue_user_op(user_op{entry.hub, entry.user_id, entry.connection_id, true, incarnation_,
                              entry.connected_at_ms});
    }

    // ---- user records: batched ----

    void queue_user_op(user_op op) {
        batch_.push_back(std::move(op));
        if (batch_.size() >= max_batch) {
            run_batch();
        }
    }

    // Applies one connect or disconnect to a record: +1 the user came online, -1 went offline.
    static int apply(user_record& record, const user_op& op) {
        std::erase_if(record.connections, [&](const auto& c) { return c.id == op.connection; });
        if (op.add) {
            record.connections.push_back({op.connection, op.incarnation, op.connected_at_ms});
        }
        if (!record.connections.empty() && !record.reported) {
            record.reported = true;
            return 1;
        }
        if (record.connections.empty() && record.reported) {
            record.reported = false;
            return -1;
        }
        return 0;
    }

    // Every record change queued since the last batch: one pipelined round of reads (direct
    // gets) and one of compare-and-set writes, instead of two round trips per connect. A key
    // whose read or write did not succeed in the round goes the one-by-one way.
    void run_batch() {
        if (batch_.empty()) {
            return;
        }
        auto ops = std::exchange(batch_, {});
        if (!ready()) {
            dirty_ = true;
            return;
        }
        std::vector<std::string> keys;
        std::unordered_map<std::string, std::vector<const user_op*>> by_key;
        for (const auto& op : ops) {
            auto key = keys_.user(op.hub, op.user);
            auto& list = by_key[key];
            if (list.empty()) {
                keys.push_back(std::move(key));
            }
            list.push_back(&op);
        }
        std::vector<request> reads;
        reads.reserve(keys.size());
        for (const auto& key : keys) {
            reads.push_back(request{direct_get_prefix_ + subject_prefix_ + key, {}, {}});
        }
        const auto read_replies = request_many(reads);
        std::vector<request> writes;
        std::vector<std::size_t> written;  // index into keys per write
        std::vector<std::vector<user_change>> changes(keys.size());
        std::vector<bool> one_by_one(keys.size(), false);
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const auto read = parse_direct_get(read_replies[i]);
            if (!read) {
                one_by_one[i] = true;
                continue;
            }
            auto record = read->present ? decode_user(read->value) : std::nullopt;
            if (!record) {
                record = user_record{by_key[keys[i]].front()->user, false, {}};
            }
            std::erase_if(record->connections,
                          [&](const auto& c) { return !alive(c.incarnation); });
            for (const auto* op : by_key[keys[i]]) {
                if (const int flip = apply(*record, *op); flip != 0) {
                    changes[i].push_back(user_change{op->hub, op->user, flip > 0, op->connection});
                }
            }
            request write{subject_prefix_ + keys[i], {}, {}};
            write.headers.emplace_back("Nats-Expected-Last-Subject-Sequence",
                                       std::to_string(read->revision));
            if (record->connections.empty()) {
                if (!read->present) {
                    continue;  // nothing stored, nothing to store
                }
                write.headers.emplace_back("KV-Operation", "DEL");
            } else {
                write.data = encode(*record);
            }
            writes.push_back(std::move(write));
            written.push_back(i);
        }
        const auto acks = request_many(writes);
        for (std::size_t w = 0; w < writes.size(); ++w) {
            if (acknowledged(acks[w])) {
                continue;
            }
            one_by_one[written[w]] = true;
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (one_by_one[i]) {
                changes[i].clear();
                auto done = update_user(keys[i], by_key[keys[i]]);
                if (!done) {
                    dirty_ = true;
                    continue;
                }
                changes[i] = std::move(*done);
            }
            for (auto& change : changes[i]) {
                report(std::move(change));
            }
        }
    }

    // ---- pipelined requests ----

    struct request {
        std::string subject;
        std::string data;
        std::vector<std::pair<std::string, std::string>> headers;
    };

    // Sends every request at once on one connection and collects the replies (nullptr: none
    // within the request timeout). The caller owns the replies.
    std::vector<std::unique_ptr<natsMsg, void (*)(natsMsg*)>> request_many(
        const std::vector<request>& requests) {
        std::vector<std::unique_ptr<natsMsg, void (*)(natsMsg*)>> replies;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            replies.emplace_back(nullptr, natsMsg_Destroy);
        }
        auto* nc = connection_.load();
        if (requests.empty() || nc == nullptr || !subscribe_inbox(nc)) {
            return replies;
        }
        const auto round = std::to_string(++round_) + ".";
        std::size_t sent = 0;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            natsMsg* msg = nullptr;
            const auto reply = inbox_ + "." + round + std::to_string(i);
            if (natsMsg_Create(&msg, requests[i].subject.c_str(), reply.c_str(),
                               requests[i].data.data(),
                               static_cast<int>(requests[i].data.size())) != NATS_OK) {
                continue;
            }
            for (const auto& [name, value] : requests[i].headers) {
                natsMsgHeader_Set(msg, name.c_str(), value.c_str());
            }
            if (natsConnection_PublishMsg(nc, msg) == NATS_OK) {
                ++sent;
            }
            natsMsg_Destroy(msg);
        }
        const auto deadline = steady::now() + nats_.request_timeout;
        const auto prefix = inbox_ + "." + round;
        for (std::size_t got = 0; got < sent;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            natsMsg* msg = nullptr;
            if (left.count() <= 0) {
                break;
            }
            if (const auto status =
                    natsSubscription_NextMsg(&msg, inbox_subscription_, left.count());
                status != NATS_OK) {
                if (status == NATS_TIMEOUT) {
                    break;
                }
                continue;  // a status reply (no responders): its request stays unanswered
            }
            const std::string_view subject = natsMsg_GetSubject(msg);
            std::size_t index = requests.size();
            if (subject.starts_with(prefix)) {
                const auto tail = subject.substr(prefix.size());
                std::from_chars(tail.data(), tail.data() + tail.size(), index);
            }
            if (index < requests.size() && !replies[index]) {
                replies[index].reset(msg);
                ++got;
            } else {
                natsMsg_Destroy(msg);  // a late reply of an earlier round
            }
        }
        return replies;
    }

    bool subscribe_inbox(natsConnection* nc) {
        if (inbox_subscription_ != nullptr) {
            return true;
        }
        natsInbox* inbox = nullptr;
        if (natsInbox_Create(&inbox) != NATS_OK) {
            return false;
        }
        inbox_ = inbox;
        natsInbox_Destroy(inbox);
        const auto filter = inbox_ + ".>";
        if (natsConnection_SubscribeSync(&inbox_subscription_, nc, filter.c_str()) != NATS_OK) {
            inbox_subscription_ = nullptr;
            return false;
        }
        // A batch's replies all wait here until read: no cnats limit may drop them.
        natsSubscription_SetPendingLimits(inbox_subscription_, -1, -1);
        return true;
    }

    // A direct get's reply: the key's last message, "not found" (revision 0), or nullopt
    // (no reply, an error, or a stream that does not allow direct gets).
    static std::optional<kv_read> parse_direct_get(
        const std::unique_ptr<natsMsg, void (*)(natsMsg*)>& reply) {
        if (!reply) {
            return std::nullopt;
        }
        auto* msg = reply.get();
        const char* value = nullptr;
        if (natsMsgHeader_Get(msg, "Nats-Sequence", &value) != NATS_OK || value == nullptr) {
            const char* status = nullptr;
            if (natsMsgHeader_Get(msg, "Status", &status) == NATS_OK && status != nullptr &&
                std::string_view(status) == "404") {
                return kv_read{};
            }
            return std::nullopt;
        }
        kv_read read;
        const std::string_view sequence(value);
        if (std::from_chars(sequence.data(), sequence.data() + sequence.size(), read.revision).ec !=
            std::errc()) {
            return std::nullopt;
        }
        const char* operation = nullptr;
        read.present = natsMsgHeader_Get(msg, "KV-Operation", &operation) != NATS_OK;
        if (read.present) {
            read.value.assign(natsMsg_GetData(msg),
                              static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        }
        return read;
    }

    // A JetStream publish acknowledgement ({"stream":...,"seq":N}), not an error.
    static bool acknowledged(const std::unique_ptr<natsMsg, void (*)(natsMsg*)>& reply) {
        if (!reply) {
            return false;
        }
        const std::string_view body(natsMsg_GetData(reply.get()),
                                    static_cast<std::size_t>(natsMsg_GetDataLength(reply.get())));
        return body.find("\"error\"") == std::string_view::npos &&
               body.find("\"seq\"") != std::string_view::npos;
    }

    void write_index(const local_connection& entry) {
        if (!ready()) {
            dirty_ = true;
            return;
        }
        put_async(keys_.index(incarnation_, entry.hub, entry.connection_id),
                  encode(index_entry{entry.hub,
                                     entry.connection_id,
                                     entry.user_id,
                                     {entry.groups.begin(), entry.groups.end()}}));
    }

    void write_group(const local_connection& entry, const std::string& group) {
        if (!ready()) {
            dirty_ = true;
            return;
        }
        put_async(keys_.member(entry.hub, group, entry.connection_id),
                  encode(member_entry{incarnation_, entry.connected_at_ms, entry.user_id}));
    }

    // The one-by-one way: a read and a compare-and-set of the record until it holds; the
    // reports to make, or nullopt when NATS failed.
    std::optional<std::vector<user_change>> update_user(const std::string& key,
                                                        const std::vector<const user_op*>& ops) {
        for (int attempt = 0; attempt < cas_attempts; ++attempt) {
            const auto read = read_key(key);
            if (!read) {
                return std::nullopt;
            }
            auto record = read->present ? decode_user(read->value) : std::nullopt;
            if (!record) {
                record = user_record{ops.front()->user, false, {}};
            }
            std::erase_if(record->connections,
                          [&](const auto& c) { return !alive(c.incarnation); });
            std::vector<user_change> changes;
            for (const auto* op : ops) {
                if (const int flip = apply(*record, *op); flip != 0) {
                    changes.push_back(user_change{op->hub, op->user, flip > 0, op->connection});
                }
            }
            write_status status = write_status::ok;
            if (record->connections.empty()) {
                if (read->present) {
                    status = erase(key, read->revision);
                }
            } else {
                status = write(key, encode(*record), read->revision);
            }
            if (status == write_status::ok) {
                return changes;
            }
            if (status == write_status::failed) {
                return std::nullopt;
            }
        }
        spdlog::warn("presence: gave up updating a busy user record after {} attempts",
                     cas_attempts);
        return std::nullopt;
    }

    // ---- KV primitives ----

    // Before a query: pipelined writes of this instance are stored (read your writes).
    void flush() {
        if (js_ != nullptr && async_pending_) {
            jsPubOptions options;
            jsPubOptions_Init(&options);
            options.MaxWait = nats_.request_timeout.count();
            js_PublishAsyncComplete(js_, &options);
            async_pending_ = false;
        }
    }

    std::optional<kv_read> query_read(const std::string& key) {
        if (!ready()) {
            return std::nullopt;
        }
        flush();
        return read_key(key);
    }

    std::optional<std::vector<listed>> query_list(const std::string& filter) {
        if (!ready()) {
            return std::nullopt;
        }
        flush();
        // Once more after a failure: a listing is a consumer the server creates on demand,
        // and one that stalled (a busy server) should not fail the query while NATS is up.
        auto all = list(filter, SIZE_MAX);
        if (!all && ready()) {
            all = list(filter, SIZE_MAX);
        }
        return all;
    }

    std::optional<kv_read> read_key(const std::string& key) {
        if (!ready()) {
            return std::nullopt;
        }
        natsMsg* msg = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const auto subject = subject_prefix_ + key;
        jsOptions options;
        jsOptions_Init(&options);
        options.Wait = nats_.request_timeout.count();
        const auto status =
            js_GetLastMsg(&msg, js_, stream_.c_str(), subject.c_str(), &options, &code);
        if (status == NATS_NOT_FOUND || code == JSNoMessageFoundErr) {
            natsMsg_Destroy(msg);
            return kv_read{};
        }
        if (status != NATS_OK) {
            natsMsg_Destroy(msg);
            lost(status, code);
            return std::nullopt;
        }
        kv_read read;
        read.revision = natsMsg_GetSequence(msg);
        read.created_ns = natsMsg_GetTime(msg);
        const char* operation = nullptr;
        read.present = natsMsgHeader_Get(msg, "KV-Operation", &operation) != NATS_OK;
        if (read.present) {
            read.value.assign(natsMsg_GetData(msg),
                              static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        }
        natsMsg_Destroy(msg);
        return read;
    }

    // Up to `max` keys matching `filter` with their values (delete markers left out).
    std::optional<std::vector<listed>> list(const std::string& filter, std::size_t max,
                                            bool markers = false) {
        kvWatchOptions options;
        kvWatchOptions_Init(&options);
        // Delete markers are skipped here, not by cnats: its skipping charges the time since
        // the call began to the timeout once per marker, so thousands of markers time out.
        options.Timeout = nats_.request_timeout.count();
        kvWatcher* watcher = nullptr;
        if (const auto status = kvStore_Watch(&watcher, kv_, filter.c_str(), &options);
            status != NATS_OK) {
            spdlog::warn("presence: listing {} failed: {}", filter, natsStatus_GetText(status));
            lost(NATS_ERR, static_cast<jsErrCode>(0));
            return std::nullopt;
        }
        // The watch goes on past the values it started with: a key changed meanwhile comes again,
        // and its last message counts.
        std::vector<listed> out;
        std::unordered_map<std::string, std::size_t> seen;
        bool ok = true;
        while (out.size() < max) {
            kvEntry* entry = nullptr;
            if (const auto status = kvWatcher_Next(&entry, watcher, nats_.request_timeout.count());
                status != NATS_OK) {
                spdlog::warn("presence: listing {} stopped after {} keys: {}", filter, seen.size(),
                             natsStatus_GetText(status));
                ok = false;
                break;
            }
            if (entry == nullptr) {
                break;  // the initial values are all there
            }
            const auto* data = static_cast<const char*>(kvEntry_Value(entry));
            listed item{
                kvEntry_Key(entry),
                std::string(data, static_cast<std::size_t>(std::max(0, kvEntry_ValueLen(entry)))),
                kvEntry_Revision(entry), kvEntry_Created(entry),
                kvEntry_Operation(entry) == kvOp_Put};
            kvEntry_Destroy(entry);
            if (const auto [at, fresh] = seen.try_emplace(item.key, out.size()); !fresh) {
                out[at->second] = std::move(item);
            } else {
                out.push_back(std::move(item));
            }
        }
        kvWatcher_Destroy(watcher);
        if (!ok) {
            return std::nullopt;
        }
        if (!markers) {
            std::erase_if(out, [](const listed& item) { return !item.present; });
        }
        return out;
    }

    // A write that must hold `expected_revision` (0: the key never existed) unless nullopt.
    write_status write(const std::string& key, const std::string& value,
                       std::optional<std::uint64_t> expected_revision, bool erase_marker = false) {
        if (!ready()) {
            return write_status::failed;
        }
        natsMsg* msg = nullptr;
        const auto subject = subject_prefix_ + key;
        if (natsMsg_Create(&msg, subject.c_str(), nullptr, value.data(),
                           static_cast<int>(value.size())) != NATS_OK) {
            return write_status::failed;
        }
        if (erase_marker) {
            natsMsgHeader_Set(msg, "KV-Operation", "DEL");
        }
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = nats_.request_timeout.count();
        if (expected_revision) {
            if (*expected_revision == 0) {
                options.ExpectNoMessage = true;
            } else {
                options.ExpectLastSubjectSeq = *expected_revision;
            }
        }
        jsPubAck* ack = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const auto status = js_PublishMsg(&ack, js_, msg, &options, &code);
        const auto sequence = ack != nullptr ? ack->Sequence : 0;
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(msg);
        if (status == NATS_OK) {
            if (key == keys_.heartbeat(incarnation_)) {
                heartbeat_revision_ = sequence;
            }
            return write_status::ok;
        }
        if (code == JSStreamWrongLastSequenceErr) {
            return write_status::conflict;
        }
        lost(status, code);
        return write_status::failed;
    }

    write_status erase(const std::string& key, std::uint64_t revision) {
        return write(key, {}, revision, true);
    }

    void put_async(const std::string& key, const std::string& value) {
        publish_async(key, value, false);
    }
    void erase_async(const std::string& key) { publish_async(key, {}, true); }

    void publish_async(const std::string& key, const std::string& value, bool erase_marker) {
        if (!ready()) {
            dirty_ = true;
            return;
        }
        natsMsg* msg = nullptr;
        const auto subject = subject_prefix_ + key;
        if (natsMsg_Create(&msg, subject.c_str(), nullptr, value.data(),
                           static_cast<int>(value.size())) != NATS_OK) {
            dirty_ = true;
            return;
        }
        if (erase_marker) {
            natsMsgHeader_Set(msg, "KV-Operation", "DEL");
        }
        if (js_PublishMsgAsync(js_, &msg, nullptr) != NATS_OK) {
            natsMsg_Destroy(msg);
            dirty_ = true;
            return;
        }
        async_pending_ = true;
    }

    // On a cnats thread: a pipelined write failed; the next heartbeat writes everything again.
    static void on_async_error(jsCtx*, jsPubAckErr* error, void* closure) {
        static_cast<std::atomic<bool>*>(closure)->store(true);
        spdlog::warn("presence: a pipelined NATS KV write failed: {}",
                     error != nullptr && error->ErrText != nullptr ? error->ErrText : "?");
    }

    // After a failed call: a bucket that no longer exists is bound (or created) again.
    void lost(natsStatus status, jsErrCode code) {
        if (stream_gone(status, code) && kv_ != nullptr) {
            spdlog::warn("presence: NATS KV bucket {} is gone; creating it again", nats_.bucket);
            kvStore_Destroy(kv_);
            kv_ = nullptr;
            connected_.store(false, std::memory_order_relaxed);
            dirty_ = true;
        }
    }

    boost::asio::io_context& context_;
    nats_store_options nats_;
    store_options options_;
    layout keys_;
    std::string incarnation_;
    std::string stream_;
    std::string subject_prefix_;
    natsOptions* nats_options_;
    std::atomic<natsConnection*> connection_{nullptr};
    jsCtx* js_ = nullptr;
    kvStore* kv_ = nullptr;
    change_handler on_change_;
    std::atomic<bool> connected_{false};

    // This instance's connections by id, changed by the callers (never across I/O), copied by
    // the worker when it writes everything again.
    std::mutex mirror_mutex_;
    std::map<std::string, local_connection> mirror_;

    std::mutex mutex_;
    std::condition_variable wake_;
    struct queued_job {
        std::function<void()> run;
        bool update = false;   // may join the batch of record changes before it
        bool covered = false;  // in the mirror a memory store took over: nothing to do
    };
    std::deque<queued_job> jobs_;
    bool overflowed_ = false;
    bool stopping_ = false;
    std::thread thread_;

    // Worker thread only.
    std::unique_ptr<memory_store> fallback_;  // set when the server has no JetStream
    std::unordered_map<std::string, peer> peers_;
    std::int64_t offset_ns_ = 0;  // server clock minus system clock, from our own heartbeat
    std::uint64_t heartbeat_revision_ = 0;
    std::uint64_t generation_ = 0;
    bool announced_ = false;  // a heartbeat of this incarnation is stored
    bool dirty_ = false;      // an update was lost: write everything again
    bool async_pending_ = false;
    std::vector<user_op> batch_;
    std::string inbox_;
    natsSubscription* inbox_subscription_ = nullptr;
    std::uint64_t round_ = 0;
    std::string direct_get_prefix_ = "$JS.API.DIRECT.GET." + stream_ + ".";
    std::atomic<bool> async_failed_{false};  // set by cnats' thread
    steady::time_point last_beat_;
    steady::time_point next_sweep_ = steady::now() + nats_.sweep_interval;
    steady::time_point last_setup_warning_;
};

nats_store::nats_store(boost::asio::io_context& context, nats_store_options nats,
                       store_options options)
    : worker_(std::make_shared<worker>(context, std::move(nats), std::move(options))) {}

nats_store::~nats_store() {
    stop();
}

void nats_store::start(change_handler on_change) {
    worker_->start(std::move(on_change));
}

void nats_store::stop() {
    worker_->stop();
}

bool nats_store::connected() const {
    return worker_->connected();
}

void nats_store::connection_added(std::string_view hub, const connection_entry& entry) {
    worker_->connection_added(std::string(hub), entry);
}

void nats_store::connection_removed(std::string_view hub, std::string_view connection_id,
                                    std::string_view user_id) {
    worker_->connection_removed(std::string(hub), std::string(connection_id), std::string(user_id));
}

void nats_store::group_joined(std::string_view hub, std::string_view connection_id,
                              std::string_view user_id, std::string_view group) {
    worker_->group_joined(std::string(hub), std::string(connection_id), std::string(user_id),
                          std::string(group));
}

void nats_store::group_left(std::string_view hub, std::string_view connection_id,
                            std::string_view group) {
    worker_->group_left(std::string(hub), std::string(connection_id), std::string(group));
}

void nats_store::online_users(std::string_view hub, std::string cursor, std::size_t limit,
                              page_callback<std::string> done) {
    auto refuse = worker_->refusal(done, expected<page<std::string>>(unavailable()));
    worker_->push([w = worker_.get(), hub = std::string(hub), cursor = std::move(cursor), limit,
                   done = std::move(
                       done)]() mutable { w->online_users(hub, cursor, limit, std::move(done)); },
                  false, refuse);
}

void nats_store::user_connections(std::string_view hub, std::string_view user_id,
                                  std::string cursor, std::size_t limit,
                                  page_callback<connection_entry> done) {
    auto refuse = worker_->refusal(done, expected<page<connection_entry>>(unavailable()));
    worker_->push(
        [w = worker_.get(), hub = std::string(hub), user = std::string(user_id),
         cursor = std::move(cursor), limit, done = std::move(done)]() mutable {
            w->user_connections(hub, user, cursor, limit, std::move(done));
        },
        false, refuse);
}

void nats_store::group_members(std::string_view hub, std::string_view group, std::string cursor,
                               std::size_t limit, page_callback<connection_entry> done) {
    auto refuse = worker_->refusal(done, expected<page<connection_entry>>(unavailable()));
    worker_->push(
        [w = worker_.get(), hub = std::string(hub), group = std::string(group),
         cursor = std::move(cursor), limit, done = std::move(done)]() mutable {
            w->group_members(hub, group, cursor, limit, std::move(done));
        },
        false, refuse);
}

void nats_store::is_online(std::string_view hub, std::string_view user_id,
                           std::function<void(expected<bool>)> done) {
    auto refuse = worker_->refusal(done, expected<bool>(unavailable()));
    worker_->push([w = worker_.get(), hub = std::string(hub), user = std::string(user_id),
                   done = std::move(done)]() mutable { w->is_online(hub, user, std::move(done)); },
                  false, refuse);
}

void nats_store::state_get(std::string key, value_callback done) {
    auto refuse = worker_->refusal(done, expected<std::optional<std::string>>(unavailable()));
    worker_->push([w = worker_.get(), key = std::move(key),
                   done = std::move(done)]() mutable { w->state_get(key, std::move(done)); },
                  false, refuse);
}

void nats_store::state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                           std::function<void(expected<void>)> done) {
    auto refuse = worker_->refusal(done, expected<void>(unavailable()));
    worker_->push(
        [w = worker_.get(), key = std::move(key), value = std::move(value), ttl,
         done = std::move(done)]() mutable {
            w->state_set(key, std::move(value), ttl, std::move(done));
        },
        false, refuse);
}

void nats_store::state_erase(std::string key, flag_callback done) {
    auto refuse = worker_->refusal(done, expected<bool>(unavailable()));
    worker_->push([w = worker_.get(), key = std::move(key),
                   done = std::move(done)]() mutable { w->state_erase(key, std::move(done)); },
                  false, refuse);
}

void nats_store::state_compare_and_set(std::string key, std::optional<std::string> expected,
                                       std::string value, std::chrono::milliseconds ttl,
                                       flag_callback done) {
    auto refuse = worker_->refusal(done, switchboard::expected<bool>(unavailable()));
    worker_->push(
        [w = worker_.get(), key = std::move(key), expected = std::move(expected),
         value = std::move(value), ttl, done = std::move(done)]() mutable {
            w->state_compare_and_set(key, expected, value, ttl, std::move(done));
        },
        false, refuse);
}

}  // namespace switchboard::presence::nats
