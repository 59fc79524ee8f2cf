#include "routing/nats/log_backplane.hpp"

#include "presence/nats/presence_layout.hpp"
#include "routing/nats/cnats_options.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchboard::routing::nats {

namespace {

using steady = std::chrono::steady_clock;

// Compare-and-set rounds before a swap reports the log unavailable: each lost round means
// another instance rewrote the record meanwhile with the value we expected, which only a
// handful of racing claimants can do.
constexpr int cas_attempts = 16;
// Publications a JetStream context lets wait for their acknowledgements: beyond it a publish
// stalls (on the worker), then fails and is dropped. 65,536 covers an outage's backlog within
// the byte bound for chat-sized payloads.
constexpr std::int64_t max_pending_acks = 65'536;
// How long a publish waits for room among the pending acknowledgements: 200 ms, cnats' own.
constexpr std::int64_t stall_wait_ms = 200;
// The server's idle heartbeat to a consumer: missing ones fail the reader's next read, so a
// consumer the server lost is replaced within a few seconds (1 s; cnats' ordered default is 5).
constexpr std::int64_t consumer_heartbeat_ns = 1'000'000'000;

std::int64_t to_ns(std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

std::int64_t system_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// '.' of a subject prefix as '_': stream and bucket names allow [A-Za-z0-9_-] only, which is
// what the prefix's tokens are made of (connection_string.hpp).
std::string name_root(std::string_view prefix) {
    std::string out(prefix);
    std::replace(out.begin(), out.end(), '.', '_');
    return out;
}

void put_field(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

// One length-prefixed field off the front of `rest`.
std::optional<std::string_view> take_field(std::string_view& rest) {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::size_t size = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + colon, size);
    if (ec != std::errc() || end != rest.data() + colon || size > rest.size() - colon - 1) {
        return std::nullopt;
    }
    const auto field = rest.substr(colon + 1, size);
    rest.remove_prefix(colon + 1 + size);
    return field;
}

std::string frame(std::string_view origin, std::string_view channel, std::string_view payload) {
    std::string out;
    out.reserve(origin.size() + channel.size() + payload.size() + 24);
    put_field(out, origin);
    put_field(out, channel);
    out += payload;
    return out;
}

std::optional<log_entry> unframe(std::uint64_t sequence, std::string_view data) {
    auto origin = take_field(data);
    auto channel = origin ? take_field(data) : std::nullopt;
    if (!channel) {
        return std::nullopt;
    }
    return log_entry{std::to_string(sequence), std::string(*origin), std::string(*channel),
                     make_shared_buffer(std::string(data))};
}

// A log id of this bus: a stream sequence, "<n>" (also read as "<n>-0"; "0-0" is the start).
std::optional<std::uint64_t> parse_sequence(std::string_view id) {
    if (id.ends_with("-0")) {
        id.remove_suffix(2);
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
    if (id.empty() || ec != std::errc() || end != id.data() + id.size()) {
        return std::nullopt;
    }
    return value;
}

// A record's stored form: "<deadline in ms since the epoch, 0: none>:<value>".
std::string encode_record(std::string_view value, std::chrono::milliseconds ttl) {
    std::string out = std::to_string(ttl.count() > 0 ? system_ms() + ttl.count() : std::int64_t{0});
    out += ':';
    out += value;
    return out;
}

// The value unless malformed or past its deadline.
std::optional<std::string> live_record(std::string_view stored) {
    const auto colon = stored.find(':');
    std::int64_t deadline = 0;
    if (colon == std::string_view::npos ||
        std::from_chars(stored.data(), stored.data() + colon, deadline).ec != std::errc()) {
        return std::nullopt;
    }
    if (deadline != 0 && deadline <= system_ms()) {
        return std::nullopt;
    }
    return std::string(stored.substr(colon + 1));
}

bool no_jetstream(natsStatus status, jsErrCode code) {
    return status == NATS_NO_RESPONDERS || code == JSNotEnabledErr ||
           code == JSNotEnabledForAccountErr;
}

error unavailable() {
    return make_error(std::string(log_unavailable));
}

// What the reader needs of the stream's state.
struct stream_view {
    bool exists = false;
    std::uint64_t first = 0;  // the first sequence stored (last + 1 when empty)
    std::uint64_t last = 0;   // the last sequence ever stored (0: none)
    std::int64_t created = 0;
};

}  // namespace

class log_backplane::state : public std::enable_shared_from_this<state> {
public:
    state(boost::asio::io_context& context, log_options options)
        : context_(context),
          options_(std::move(options)),
          stream_(name_root(options_.connection.subject_prefix) + "log"),
          subject_(options_.connection.subject_prefix + "log"),
          bucket_(name_root(options_.connection.subject_prefix) + "records"),
          record_subject_prefix_("$KV." + bucket_ + ".") {}

    ~state() {
        if (kv_ != nullptr) {
            kvStore_Destroy(kv_);
        }
        if (js_ != nullptr) {
            jsCtx_Destroy(js_);
        }
        if (auto* nc = connection_.exchange(nullptr); nc != nullptr) {
            natsConnection_Destroy(nc);
        }
        if (nats_options_ != nullptr) {
            natsOptions_Destroy(nats_options_);
        }
    }

    // At construction (may throw): cnats options, then a look at the server, if it answers,
    // for JetStream.
    void build_options() {
        open_library();
        natsOptions* opts = nullptr;
        check(natsOptions_Create(&opts), "options");
        nats_options_ = opts;
        apply_connection(opts, options_.connection, "NATS log");
        const auto name = options_.connection.name + " log";
        check(natsOptions_SetName(opts, name.c_str()), "name");
        apply_reconnect(
            opts,
            {options_.connect_timeout, options_.reconnect_wait, options_.reconnect_jitter,
             options_.reconnect_jitter, options_.max_buffered_bytes},
            "NATS log");
        probe();
        // Last: from here on the options hold the connection closure (released by the closed
        // callback, the connection's last).
        connection_closure_ = new std::shared_ptr<state>(shared_from_this());
        apply_lifecycle(opts, {on_connected, on_disconnected, on_reconnected, on_closed},
                        connection_closure_, "NATS log");
    }

    // Control shard.
    void start(backplane_handler& handler) {
        if (started_ || stopped_) {
            return;
        }
        started_ = true;
        handler_ = &handler;
        worker_ = std::thread([self = shared_from_this()] { self->worker_main(); });
        reader_ = std::thread([self = shared_from_this()] { self->reader_main(); });
    }

    // Control shard, or after its threads stopped.
    void stop() {
        if (stopped_.exchange(true)) {
            return;
        }
        handler_ = nullptr;
        observer_ = nullptr;
        {
            std::lock_guard lock(gate_mutex_);
            open_ = false;  // nothing reaches the control shard from here on
        }
        std::deque<job> left;
        {
            std::lock_guard lock(mutex_);
            left.swap(jobs_);
        }
        wake_.notify_all();
        room_.notify_all();
        auto* nc = connection_.load();
        if (nc != nullptr) {
            natsConnection_Close(nc);  // ends the blocking calls of both threads
        }
        if (worker_.joinable()) {
            worker_.join();
        }
        if (reader_.joinable()) {
            reader_.join();
        }
        nc = connection_.load();
        if (nc != nullptr) {
            natsConnection_Close(nc);  // the worker may have connected after the first look
        } else if (connection_closure_ != nullptr) {
            delete connection_closure_;  // never handed to a connection: no closed callback
        }
        connection_closure_ = nullptr;
        if (nc != nullptr) {
            std::unique_lock lock(release_mutex_);
            // Bounded: a lost callback must not hang shutdown.
            released_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; });
        }
        retired_.free_all();  // the close joined cnats' reader thread
    }

    // ---- backplane, control shard ----

    void subscribe(const std::string& channel) { ++subscriptions_[channel]; }

    void unsubscribe(const std::string& channel) {
        const auto it = subscriptions_.find(channel);
        if (it != subscriptions_.end() && --it->second == 0) {
            subscriptions_.erase(it);
        }
    }

    void publish(const std::string& channel, const shared_buffer& payload) {
        if (stopped_) {
            return;
        }
        auto data = frame(options_.server_name, channel, *payload);
        const auto size = data.size();
        accepted_.fetch_add(1, std::memory_order_relaxed);
        const bool queued =
            push(job{[this, data = std::move(data)] { publish_now(data); }, {}, size, true});
        if (!queued) {
            accepted_.fetch_sub(1, std::memory_order_relaxed);
            count_drop("the outage buffer is full");
        }
    }

    void when_subscribed(std::function<void()> then) { post_if_open(std::move(then)); }

    [[nodiscard]] bool connected() const { return synced_ && link_up(); }

    // ---- durable_log, control shard ----

    void read_after(const std::string& after, std::size_t count, read_handler done) {
        using result = expected<std::vector<log_entry>>;
        const auto from = parse_sequence(after);
        if (!from) {
            return answer(std::move(done), result(make_error("not a log id of this bus")));
        }
        query([this, from = *from, count,
               done]() mutable { answer(std::move(done), read_range(from, count)); },
              [this, done]() mutable { answer(std::move(done), result(unavailable())); });
    }

    void put_record(const std::string& key, std::string value, std::chrono::milliseconds ttl) {
        // In order with the publications; dropped (the caller refreshes) when NATS is away.
        push(job{[this, key, stored = encode_record(value, ttl)] {
                     if (up()) {
                         write_record(key, stored, std::nullopt);
                     }
                 },
                 {},
                 0,
                 false});
    }

    void get_record(const std::string& key, get_handler done) {
        using result = expected<std::optional<std::string>>;
        query(
            [this, key, done]() mutable {
                const auto read = read_record(key);
                if (!read) {
                    return answer(std::move(done), result(unavailable()));
                }
                answer(std::move(done), result(read->value));
            },
            [this, done]() mutable { answer(std::move(done), result(unavailable())); });
    }

    void compare_and_set_record(const std::string& key, std::string expected_value,
                                std::string desired, std::chrono::milliseconds ttl,
                                swap_handler done) {
        using result = expected<bool>;
        query(
            [this, key, expected_value = std::move(expected_value), desired = std::move(desired),
             ttl,
             done]() mutable { answer(std::move(done), swap(key, expected_value, desired, ttl)); },
            [this, done]() mutable { answer(std::move(done), result(unavailable())); });
    }

    void erase_record(const std::string& key) {
        push(job{[this, key] {
                     if (up()) {
                         kvStore_Delete(kv_, encoded(key).c_str());
                     }
                 },
                 {},
                 0,
                 false});
    }

    // ---- for the wrapper ----

    log_observer* observer_ = nullptr;  // control shard
    std::string position_ = "0-0";      // control shard
    const log_options& options() const { return options_; }
    const std::string& stream_name() const { return stream_; }
    const std::string& subject() const { return subject_; }
    const std::string& bucket_name() const { return bucket_; }

    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> confirmed_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::size_t> queued_bytes_{0};

private:
    // A unit of the worker's queue: `run` on the worker, or `refuse` (on the caller's thread)
    // when it cannot be queued.
    struct job {
        std::function<void()> run;
        std::function<void()> refuse;
        std::size_t bytes = 0;
        bool publication = false;
    };

    // What the reader hands to the control shard, in log order.
    struct item {
        enum kind_t { entry, gap, resync } kind = entry;
        std::uint64_t sequence = 0;  // the entry's, or the position a gap or resync moves to
        std::optional<log_entry> value;
        std::size_t bytes = 0;
    };

    void check(natsStatus status, const char* what) { nats::check(status, "NATS log", what); }

    // ---- startup probe ----

    // One connection attempt to see whether the server has JetStream: a server that answers
    // without it makes the constructor throw; one that does not answer is checked later.
    void probe() {
        natsConnection* nc = nullptr;
        if (natsConnection_Connect(&nc, nats_options_) != NATS_OK) {
            natsConnection_Destroy(nc);
            spdlog::warn(
                "backplane: NATS not reachable at startup; its JetStream is checked once it is");
            return;
        }
        jsCtx* js = nullptr;
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = options_.request_timeout.count();
        jsAccountInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        natsStatus status = natsConnection_JetStream(&js, nc, &js_options);
        if (status == NATS_OK) {
            status = js_GetAccountInfo(&info, js, nullptr, &code);
        }
        jsAccountInfo_Destroy(info);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        if (no_jetstream(status, code)) {
            throw std::invalid_argument(
                "durable mode needs JetStream on the NATS server (start nats-server with -js)");
        }
    }

    // ---- the worker ----

    // Any thread. False when the job does not fit (its `refuse` is then run here).
    bool push(job j) {
        {
            std::lock_guard lock(mutex_);
            const bool fits =
                !stopped_ && jobs_.size() < options_.max_queued_jobs &&
                (!j.publication || queued_bytes_ + j.bytes <= options_.max_buffered_bytes);
            if (fits) {
                queued_bytes_ += j.bytes;
                jobs_.push_back(std::move(j));
                wake_.notify_one();
                return true;
            }
        }
        if (j.refuse) {
            j.refuse();
        }
        return false;
    }

    // A call whose caller waits for an answer: refused at once while the log is not usable.
    template <class Run, class Refuse>
    void query(Run run, Refuse refuse) {
        if (!connected()) {
            return refuse();
        }
        push(job{std::move(run), std::move(refuse), 0, false});
    }

    template <class Handler, class Value>
    void answer(Handler done, Value value) {
        post_if_open([done = std::move(done), value = std::move(value)]() mutable {
            done(std::move(value));
        });
    }

    template <class F>
    void post_if_open(F&& f) {
        // "open" and "posted" in one step: once stop() closed the gate nothing is posted.
        std::lock_guard lock(gate_mutex_);
        if (open_) {
            boost::asio::post(context_, std::forward<F>(f));
        }
    }

    [[nodiscard]] bool up() const { return connected(); }

    // The stream and bucket are set up and the connection is up (the reader's condition;
    // connected() also waits for its starting point).
    [[nodiscard]] bool link_up() const {
        auto* nc = connection_.load();
        return ready_ && nc != nullptr && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
    }

    void worker_main() {
        natsConnection* nc = nullptr;
        const auto status = natsConnection_Connect(&nc, nats_options_);
        if (status == NATS_OK || status == NATS_NOT_YET_CONNECTED) {
            connection_.store(nc);
        } else {
            natsConnection_Destroy(nc);
            spdlog::error("backplane: cannot connect to NATS: {}", natsStatus_GetText(status));
            return;
        }
        if (stopped_) {
            natsConnection_Close(nc);
            return;
        }
        while (!stopped_) {
            if (!ready_) {
                if (!setup()) {
                    std::unique_lock lock(mutex_);
                    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopped_.load(); });
                    continue;
                }
                {
                    std::lock_guard lock(mutex_);
                    ready_ = true;
                }
                room_.notify_all();  // the reader waits for the stream
            }
            job next;
            {
                std::unique_lock lock(mutex_);
                // Not before the reader took its starting point: an entry of ours published
                // earlier would be behind it, and this instance's observer would miss it.
                wake_.wait(lock, [&] { return stopped_ || (!jobs_.empty() && synced_); });
                if (stopped_) {
                    return;
                }
                next = std::move(jobs_.front());
                jobs_.pop_front();
                queued_bytes_ -= next.bytes;
            }
            next.run();
        }
    }

    // The JetStream context, the stream and the bucket, made or bound; false until they are
    // (NATS away, or no JetStream: then an error, once).
    bool setup() {
        auto* nc = connection_.load();
        if (nc == nullptr || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) {
            return false;
        }
        if (js_ == nullptr) {
            jsOptions js_options;
            jsOptions_Init(&js_options);
            js_options.Wait = options_.request_timeout.count();
            js_options.PublishAsync.MaxPending = max_pending_acks;
            js_options.PublishAsync.StallWait = stall_wait_ms;
            js_options.PublishAsync.AckHandler = on_ack;
            js_options.PublishAsync.AckHandlerClosure = this;
            if (natsConnection_JetStream(&js_, nc, &js_options) != NATS_OK) {
                js_ = nullptr;
                return false;
            }
        }
        if (!ensure_stream()) {
            return false;
        }
        if (kv_ == nullptr) {
            kvStore* kv = nullptr;
            if (js_KeyValue(&kv, js_, bucket_.c_str()) != NATS_OK) {
                kvConfig config;
                kvConfig_Init(&config);
                config.Bucket = bucket_.c_str();
                config.Description = "Switchboard durable mode's records (docs/reliability.md)";
                config.History = 1;
                config.TTL = to_ns(options_.window);
                config.Replicas = options_.replicas;
                if (const auto status = js_CreateKeyValue(&kv, js_, &config); status != NATS_OK) {
                    warn_setup("bucket " + bucket_, status);
                    return false;
                }
            }
            kv_ = kv;
        }
        spdlog::info("backplane: durable log in NATS stream {} (window {} ms), records in {}",
                     stream_, options_.window.count(), bucket_);
        return true;
    }

    // Any thread with js_ set: the stream exists with this bus's limits (made, or updated when
    // another window or cap was configured).
    bool ensure_stream() {
        const char* subjects[] = {subject_.c_str()};
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = stream_.c_str();
        config.Description = "Switchboard durable mode's log (docs/reliability.md)";
        config.Subjects = subjects;
        config.SubjectsLen = 1;
        config.MaxAge = to_ns(options_.window);
        config.MaxMsgs = options_.max_entries > 0 ? static_cast<std::int64_t>(options_.max_entries)
                                                  : -1;  // -1: no cap
        config.MaxBytes =
            options_.max_bytes > 0 ? static_cast<std::int64_t>(options_.max_bytes) : -1;
        config.Storage = js_FileStorage;
        config.Replicas = options_.replicas;
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = options_.request_timeout.count();
        jsStreamInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        auto status = js_AddStream(&info, js_, &config, &js_options, &code);
        if (status != NATS_OK && code == JSStreamNameExistErr) {
            jsStreamInfo_Destroy(info);
            info = nullptr;
            status = js_UpdateStream(&info, js_, &config, &js_options, &code);
        }
        jsStreamInfo_Destroy(info);
        if (status != NATS_OK) {
            if (no_jetstream(status, code)) {
                if (!jetstream_missing_.exchange(true)) {
                    spdlog::error(
                        "backplane: the NATS server has no JetStream (start nats-server with "
                        "-js); durable mode cannot keep its log");
                }
            } else {
                warn_setup("stream " + stream_, status);
            }
            return false;
        }
        return true;
    }

    void warn_setup(const std::string& what, natsStatus status) {
        const auto now = steady::now();
        std::lock_guard lock(warn_mutex_);
        if (now - last_setup_warning_ > std::chrono::seconds(10)) {
            last_setup_warning_ = now;
            const char* detail = nats_GetLastError(nullptr);
            spdlog::warn("backplane: NATS {} not ready yet: {} {}", what,
                         natsStatus_GetText(status), detail != nullptr ? detail : "");
        }
    }

    void publish_now(const std::string& data) {
        natsMsg* msg = nullptr;
        if (natsMsg_Create(&msg, subject_.c_str(), nullptr, data.data(),
                           static_cast<int>(data.size())) != NATS_OK) {
            return settle_drop("cannot make the message");
        }
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = options_.ack_timeout.count();
        if (const auto status = js_PublishMsgAsync(js_, &msg, &options); status != NATS_OK) {
            natsMsg_Destroy(msg);  // still ours when the call failed
            return settle_drop(natsStatus_GetText(status));
        }
    }

    // A publication accepted by publish() that never went out.
    void settle_drop(const char* reason) {
        accepted_.fetch_sub(1, std::memory_order_relaxed);
        count_drop(reason);
    }

    void count_drop(const char* reason) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        const auto now = steady::now();
        std::lock_guard lock(warn_mutex_);
        ++drops_since_log_;
        if (now - last_drop_log_ >= std::chrono::seconds(1)) {
            spdlog::warn("backplane: dropped {} NATS log publication(s) (total {}): {}",
                         drops_since_log_, dropped_.load(), reason);
            drops_since_log_ = 0;
            last_drop_log_ = now;
        }
    }

    // cnats thread: one publication's fate. A timeout leaves it unconfirmed (it may be stored).
    static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
        auto& self = *static_cast<state*>(closure);
        if (ack != nullptr) {
            self.confirmed_.fetch_add(1, std::memory_order_relaxed);
        } else if (error != nullptr && error->Err != NATS_TIMEOUT) {
            self.refused_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("backplane: NATS refused a log publication: {}",
                         error->ErrText != nullptr ? error->ErrText : "?");
            if (error->Err == NATS_NO_RESPONDERS || error->ErrCode == JSStreamNotFoundErr) {
                self.stream_lost_ = true;  // the worker makes it again
            }
        }
        natsMsg_Destroy(msg);
    }

    // ---- records (worker) ----

    static std::string encoded(const std::string& key) { return presence::nats::encode_token(key); }

    struct record_read {
        std::optional<std::string> value;  // nullopt: absent, erased or expired
        std::uint64_t revision = 0;        // the key's last message (0: none)
    };

    std::optional<record_read> read_record(const std::string& key) {
        if (!up()) {
            return std::nullopt;
        }
        kvEntry* entry = nullptr;
        const auto status = kvStore_Get(&entry, kv_, encoded(key).c_str());
        if (status == NATS_NOT_FOUND) {
            // Absent or a delete marker: the marker's revision is what a create must follow,
            // which a write without expectation does not need (see swap()).
            return record_read{};
        }
        if (status != NATS_OK) {
            return std::nullopt;
        }
        record_read read;
        read.revision = kvEntry_Revision(entry);
        const auto* data = static_cast<const char*>(kvEntry_Value(entry));
        read.value = live_record(
            std::string_view(data, static_cast<std::size_t>(std::max(0, kvEntry_ValueLen(entry)))));
        kvEntry_Destroy(entry);
        return read;
    }

    enum class write_status { ok, conflict, failed };

    // A write that must follow `revision` unless nullopt.
    write_status write_record(const std::string& key, const std::string& stored,
                              std::optional<std::uint64_t> revision) {
        natsMsg* msg = nullptr;
        const auto subject = record_subject_prefix_ + encoded(key);
        if (natsMsg_Create(&msg, subject.c_str(), nullptr, stored.data(),
                           static_cast<int>(stored.size())) != NATS_OK) {
            return write_status::failed;
        }
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = options_.request_timeout.count();
        if (revision) {
            options.ExpectLastSubjectSeq = *revision;
        }
        jsPubAck* ack = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const auto status = js_PublishMsg(&ack, js_, msg, &options, &code);
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(msg);
        if (status == NATS_OK) {
            return write_status::ok;
        }
        return code == JSStreamWrongLastSequenceErr ? write_status::conflict : write_status::failed;
    }

    expected<bool> swap(const std::string& key, const std::string& expected_value,
                        const std::string& desired, std::chrono::milliseconds ttl) {
        // A read and a write that must follow the read's revision: a conflict means another
        // instance wrote in between, so the comparison is made again on what it wrote.
        for (int attempt = 0; attempt < cas_attempts; ++attempt) {
            const auto read = read_record(key);
            if (!read) {
                return expected<bool>(unavailable());
            }
            if (!read->value || *read->value != expected_value) {
                return expected<bool>(false);  // as the Redis log: an absent value matches none
            }
            switch (write_record(key, encode_record(desired, ttl), read->revision)) {
            case write_status::ok:
                return expected<bool>(true);
            case write_status::failed:
                return expected<bool>(unavailable());
            case write_status::conflict:
                break;
            }
        }
        return expected<bool>(unavailable());
    }

    // ---- reads of the stream (worker and reader) ----

    std::optional<stream_view> view_stream() {
        if (js_ == nullptr) {
            return std::nullopt;
        }
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = options_.request_timeout.count();
        jsStreamInfo* info = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const auto status = js_GetStreamInfo(&info, js_, stream_.c_str(), &js_options, &code);
        if (status != NATS_OK) {
            jsStreamInfo_Destroy(info);
            if (code == JSStreamNotFoundErr || status == NATS_NOT_FOUND) {
                return stream_view{};
            }
            return std::nullopt;
        }
        stream_view view{true, info->State.FirstSeq, info->State.LastSeq, info->Created};
        jsStreamInfo_Destroy(info);
        if (view.first == 0) {
            view.first = view.last + 1;
        }
        return view;
    }

    // An ephemeral push consumer from `first` on: no acks, flow controlled. Not cnats' ordered
    // consumer: cnats 3.4 recreates one on its own threads, and an unsubscribe racing with that
    // reads a freed consumer name (ASan); this bus replaces its consumers itself instead, when
    // a sequence goes missing, a read fails or heartbeats stop.
    natsSubscription* consume_from(std::uint64_t first) {
        jsOptions js_options;
        jsOptions_Init(&js_options);
        js_options.Wait = options_.request_timeout.count();
        jsSubOptions sub_options;
        jsSubOptions_Init(&sub_options);
        sub_options.Stream = stream_.c_str();
        sub_options.Config.AckPolicy = js_AckNone;
        sub_options.Config.FlowControl = true;
        sub_options.Config.DeliverPolicy = js_DeliverByStartSequence;
        sub_options.Config.OptStartSeq = std::max<std::uint64_t>(first, 1);
        sub_options.Config.Heartbeat = consumer_heartbeat_ns;
        natsSubscription* sub = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        if (js_SubscribeSync(&sub, js_, subject_.c_str(), &js_options, &sub_options, &code) !=
            NATS_OK) {
            return nullptr;
        }
        natsSubscription_SetPendingLimits(
            sub, static_cast<int>(options_.max_in_flight_entries),
            static_cast<int>(std::min<std::size_t>(options_.max_in_flight_bytes,
                                                   std::numeric_limits<int>::max())));
        return sub;
    }

    // Either worker thread; freed once cnats is done with it (retired_subscriptions).
    void close_subscription(natsSubscription*& sub) {
        if (sub != nullptr) {
            retired_.retire(sub);
            sub = nullptr;
        }
    }

    static std::optional<std::uint64_t> sequence_of(natsMsg* msg) {
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
            return std::nullopt;
        }
        const auto sequence = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
        return sequence;
    }

    // Worker: up to `count` entries after `after`; an error when `after` is gone.
    expected<std::vector<log_entry>> read_range(std::uint64_t after, std::size_t count) {
        using result = expected<std::vector<log_entry>>;
        const auto view = view_stream();
        if (!view) {
            return result(unavailable());
        }
        if ((after != 0 && (!view->exists || after > view->last)) ||
            (view->exists && after + 1 < view->first)) {
            return result(make_error("trimmed"));  // or the log was lost: not in it any more
        }
        std::vector<log_entry> out;
        const auto start = std::max(after + 1, view->first);
        if (count == 0 || start > view->last) {
            return result(std::move(out));
        }
        const auto end = std::min<std::uint64_t>(view->last, start + count - 1);
        auto* sub = consume_from(start);
        if (sub == nullptr) {
            return result(unavailable());
        }
        auto expected_next = start;
        while (expected_next <= end) {
            natsMsg* msg = nullptr;
            if (natsSubscription_NextMsg(&msg, sub, options_.request_timeout.count()) != NATS_OK) {
                close_subscription(sub);
                return result(unavailable());
            }
            const auto sequence = sequence_of(msg);
            if (!sequence || *sequence < expected_next) {
                natsMsg_Destroy(msg);
                continue;
            }
            if (*sequence != expected_next) {
                natsMsg_Destroy(msg);
                close_subscription(sub);
                return result(make_error("trimmed"));  // trimmed while being read
            }
            auto entry = unframe(
                *sequence, std::string_view(natsMsg_GetData(msg),
                                            static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
            natsMsg_Destroy(msg);
            expected_next = *sequence + 1;
            if (entry) {
                out.push_back(std::move(*entry));
            }
        }
        close_subscription(sub);
        return result(std::move(out));
    }

    // ---- the reader ----

    // Whether entries after `last` are gone from what the stream now is.
    static bool lost(const stream_view& view, std::uint64_t last, std::int64_t created) {
        if (!view.exists) {
            return last > 0;
        }
        return (created != 0 && view.created != created) || view.last < last ||
               view.first > last + 1;
    }

    void reader_main() {
        {
            std::unique_lock lock(mutex_);
            room_.wait(lock, [&] { return stopped_ || ready_; });
        }
        natsSubscription* sub = nullptr;
        std::uint64_t last = 0;    // the last sequence handed on
        std::int64_t created = 0;  // the stream's creation time last seen
        bool synced = false;       // the starting point is known
        std::uint64_t seen_reconnects = reconnects_.load();
        int stale_checks = 0;
        const auto pause = [&](std::chrono::milliseconds how_long) {
            std::unique_lock lock(mutex_);
            room_.wait_for(lock, how_long, [&] { return stopped_.load(); });
        };
        while (!stopped_) {
            if (stream_lost_.exchange(false) || (sub == nullptr && synced)) {
                ensure_stream();
            }
            if (sub == nullptr || reconnects_.load() != seen_reconnects) {
                close_subscription(sub);
                if (!link_up()) {
                    pause(std::chrono::milliseconds(100));
                    continue;
                }
                seen_reconnects = reconnects_.load();
                const auto view = view_stream();
                if (!view || !view->exists) {
                    if (view && synced && last > 0) {
                        hand_on(item{item::gap, 0, std::nullopt, 0});
                        last = 0;
                        created = 0;
                    }
                    stream_lost_ = view.has_value();  // gone, not just unanswered
                    pause(std::chrono::milliseconds(200));
                    continue;
                }
                if (!synced) {
                    last = view->last;  // reading begins at the stream's current end
                    synced = true;
                    hand_on(item{item::resync, last, std::nullopt, 0});
                    {
                        std::lock_guard lock(mutex_);
                        synced_ = true;
                    }
                    wake_.notify_all();  // the worker holds the jobs until now
                } else if (lost(*view, last, created)) {
                    spdlog::warn(
                        "backplane: entries of NATS stream {} after {} are gone (trimmed, or "
                        "the stream was lost); reading on from its end",
                        stream_, last);
                    last = view->last;
                    hand_on(item{item::gap, last, std::nullopt, 0});
                }
                created = view->created;
                sub = consume_from(last + 1);
                stale_checks = 0;
                if (sub == nullptr) {
                    pause(std::chrono::milliseconds(200));
                }
                continue;
            }
            natsMsg* msg = nullptr;
            const auto status = natsSubscription_NextMsg(&msg, sub, options_.idle_check.count());
            if (status == NATS_TIMEOUT) {
                // Idle: the consumer may have stopped (its server-side state lost) or the
                // stream changed under it.
                const auto view = view_stream();
                if (view && (lost(*view, last, created) || !view->exists)) {
                    close_subscription(sub);
                } else if (view && view->last > last) {
                    if (++stale_checks >= 2) {
                        close_subscription(sub);  // behind while idle: a new consumer
                    }
                } else {
                    stale_checks = 0;
                }
                continue;
            }
            if (status != NATS_OK) {
                close_subscription(sub);
                if (!stopped_) {
                    pause(std::chrono::milliseconds(100));
                }
                continue;
            }
            stale_checks = 0;
            const auto sequence = sequence_of(msg);
            if (!sequence || *sequence <= last) {
                natsMsg_Destroy(msg);
                if (sequence && *sequence <= last) {
                    close_subscription(sub);  // a stream made anew, or a repeat: look again
                }
                continue;
            }
            if (*sequence != last + 1) {
                // Trimmed, or dropped on the way (a slow consumer in cnats): only the stream
                // can tell. What it still holds is read again by a new consumer.
                const auto view = view_stream();
                if (!view ||
                    (view->exists && view->created == created && view->first <= last + 1)) {
                    natsMsg_Destroy(msg);
                    close_subscription(sub);
                    continue;
                }
                spdlog::warn("backplane: NATS stream {} skipped from {} to {} (trimmed)", stream_,
                             last, *sequence);
                hand_on(item{item::gap, *sequence - 1, std::nullopt, 0});
            }
            const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
            auto entry = unframe(*sequence, std::string_view(natsMsg_GetData(msg), size));
            natsMsg_Destroy(msg);
            last = *sequence;
            if (!entry) {
                rejected_.fetch_add(1, std::memory_order_relaxed);
                hand_on(item{item::resync, last, std::nullopt, 0});
                continue;
            }
            hand_on(item{item::entry, last, std::move(entry), size});
        }
        close_subscription(sub);
    }

    // Reader: one item to the control shard, after waiting for room.
    void hand_on(item it) {
        {
            std::unique_lock lock(mutex_);
            room_.wait(lock, [&] {
                return stopped_ || (in_flight_entries_ < options_.max_in_flight_entries &&
                                    in_flight_bytes_ < options_.max_in_flight_bytes);
            });
            if (stopped_) {
                return;
            }
            ++in_flight_entries_;
            in_flight_bytes_ += it.bytes;
        }
        bool post = false;
        {
            std::lock_guard lock(inbox_mutex_);
            inbox_.push_back(std::move(it));
            post = !drain_posted_;
            drain_posted_ = true;
        }
        // One job per batch: a post wakes the shard, and per entry that was most of the cost.
        if (post) {
            post_if_open([self = shared_from_this()] { self->drain(); });
        }
    }

    // Control shard: every item since the last drain, in order.
    void drain() {
        std::vector<item> batch;
        {
            std::lock_guard lock(inbox_mutex_);
            batch.swap(inbox_);
            drain_posted_ = false;
        }
        std::size_t bytes = 0;
        for (auto& it : batch) {
            bytes += it.bytes;
            if (stopped_) {
                continue;
            }
            position_ = it.sequence == 0 ? std::string("0-0") : std::to_string(it.sequence);
            if (it.kind == item::gap) {
                if (observer_ != nullptr) {
                    observer_->on_log_gap();
                }
                continue;
            }
            if (it.kind != item::entry) {
                continue;
            }
            const auto& entry = *it.value;
            if (observer_ != nullptr) {
                observer_->on_log_entry(entry);
            }
            if (handler_ != nullptr && entry.origin != options_.server_name &&
                subscriptions_.contains(entry.channel)) {
                handler_->on_backplane_message(entry.channel, entry.payload);
            }
        }
        {
            std::lock_guard lock(mutex_);
            in_flight_entries_ -= batch.size();
            in_flight_bytes_ -= bytes;
        }
        room_.notify_all();
    }

    // ---- connection callbacks (cnats threads) ----

    static state& of(void* closure) { return **static_cast<std::shared_ptr<state>*>(closure); }

    static void on_connected(natsConnection*, void* closure) {
        spdlog::info("backplane: connected to NATS (durable log)");
        of(closure).wake_.notify_all();
    }
    static void on_reconnected(natsConnection*, void* closure) {
        auto& self = of(closure);
        self.reconnects_.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("backplane: reconnected to NATS (durable log)");
        self.wake_.notify_all();
    }
    static void on_disconnected(natsConnection*, void* closure) {
        if (!of(closure).stopped_) {
            spdlog::warn("backplane: lost NATS; the durable log is read again from {} once back",
                         "the last entry handed on");
        }
    }
    static void on_closed(natsConnection*, void* closure) {
        auto* owner = static_cast<std::shared_ptr<state>*>(closure);
        const auto self = *owner;
        delete owner;  // the connection's last callback
        {
            std::lock_guard lock(self->release_mutex_);
            self->closed_ = true;
        }
        self->released_.notify_all();
    }

    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    boost::asio::io_context& context_;
    const log_options options_;
    const std::string stream_;
    const std::string subject_;
    const std::string bucket_;
    const std::string record_subject_prefix_;
    natsOptions* nats_options_ = nullptr;
    std::shared_ptr<state>* connection_closure_ = nullptr;

    // Control shard only.
    backplane_handler* handler_ = nullptr;
    bool started_ = false;
    std::unordered_map<std::string, int, string_hash, std::equal_to<>> subscriptions_;

    // Set by the worker before it makes them usable (ready_), then read-only until stop().
    std::atomic<natsConnection*> connection_{nullptr};
    jsCtx* js_ = nullptr;
    kvStore* kv_ = nullptr;
    std::atomic<bool> ready_{false};
    std::atomic<bool> synced_{false};  // the reader took its starting point
    std::atomic<bool> stopped_{false};
    std::atomic<bool> jetstream_missing_{false};
    std::atomic<bool> stream_lost_{false};  // a publish found no stream: make it again

    // The worker's queue and the reader's room; bounded by options_.
    std::mutex mutex_;
    std::condition_variable wake_;  // the worker: a job, a connection, or stop
    std::condition_variable room_;  // the reader: room in flight, the stream ready, or stop
    std::deque<job> jobs_;
    std::size_t in_flight_entries_ = 0;
    std::size_t in_flight_bytes_ = 0;

    std::mutex inbox_mutex_;
    std::vector<item> inbox_;
    bool drain_posted_ = false;

    std::mutex gate_mutex_;
    bool open_ = true;

    std::mutex warn_mutex_;
    steady::time_point last_setup_warning_{};
    steady::time_point last_drop_log_{};
    std::uint64_t drops_since_log_ = 0;

    retired_subscriptions retired_;
    std::mutex release_mutex_;
    std::condition_variable released_;
    bool closed_ = false;

    std::thread worker_;
    std::thread reader_;
};

log_backplane::log_backplane(boost::asio::io_context& context, log_options options)
    : context_(context), state_(std::make_shared<state>(context, std::move(options))) {
    try {
        state_->build_options();
    } catch (...) {
        state_->stop();  // frees the connection closure if it was made
        throw;
    }
}

log_backplane::~log_backplane() {
    stop();
}

namespace {

// Inline on the control shard (the router's own calls), posted from the others.
template <class F>
void on_control(boost::asio::io_context& context, F f) {
    boost::asio::dispatch(context, std::move(f));
}

}  // namespace

void log_backplane::start(backplane_handler& handler) {
    on_control(context_, [s = state_, h = &handler] { s->start(*h); });
}

void log_backplane::stop() {
    state_->stop();
}

void log_backplane::subscribe(const std::string& channel) {
    on_control(context_, [s = state_, channel] { s->subscribe(channel); });
}

void log_backplane::unsubscribe(const std::string& channel) {
    on_control(context_, [s = state_, channel] { s->unsubscribe(channel); });
}

void log_backplane::publish(const std::string& channel, shared_buffer payload) {
    // In order per instance: every shard's publications go through the control shard.
    on_control(context_, [s = state_, channel, payload = std::move(payload)] {
        s->publish(channel, payload);
    });
}

void log_backplane::when_subscribed(const std::string& channel, std::function<void()> then) {
    (void)channel;
    on_control(context_, [s = state_, then = std::move(then)]() mutable {
        s->when_subscribed(std::move(then));
    });
}

bool log_backplane::connected() const {
    return state_->connected();
}

std::uint64_t log_backplane::dropped_publications() const {
    return state_->dropped_.load(std::memory_order_relaxed);
}

std::uint64_t log_backplane::unconfirmed_publications() const {
    const auto accepted = state_->accepted_.load(std::memory_order_relaxed);
    const auto settled = state_->confirmed_.load(std::memory_order_relaxed) +
                         state_->refused_.load(std::memory_order_relaxed);
    return accepted > settled ? accepted - settled : 0;
}

std::uint64_t log_backplane::refused_publications() const {
    return state_->refused_.load(std::memory_order_relaxed);
}

std::uint64_t log_backplane::rejected_messages() const {
    return state_->rejected_.load(std::memory_order_relaxed);
}

std::uint64_t log_backplane::reconnects() const {
    return state_->reconnects_.load(std::memory_order_relaxed);
}

std::size_t log_backplane::buffered_bytes() const {
    return state_->queued_bytes_.load(std::memory_order_relaxed);
}

void log_backplane::set_observer(log_observer* observer) {
    state_->observer_ = observer;
}

const std::string& log_backplane::position() const {
    return state_->position_;
}

std::chrono::milliseconds log_backplane::window() const {
    return state_->options().window;
}

void log_backplane::read_after(const std::string& after, std::size_t count, read_handler done) {
    state_->read_after(after, count, std::move(done));
}

void log_backplane::put_record(const std::string& key, std::string value,
                               std::chrono::milliseconds ttl) {
    state_->put_record(key, std::move(value), ttl);
}

void log_backplane::get_record(const std::string& key, get_handler done) {
    state_->get_record(key, std::move(done));
}

void log_backplane::compare_and_set_record(const std::string& key, std::string expected,
                                           std::string desired, std::chrono::milliseconds ttl,
                                           swap_handler done) {
    state_->compare_and_set_record(key, std::move(expected), std::move(desired), ttl,
                                   std::move(done));
}

void log_backplane::erase_record(const std::string& key) {
    state_->erase_record(key);
}

const std::string& log_backplane::stream_name() const noexcept {
    return state_->stream_name();
}

const std::string& log_backplane::subject() const noexcept {
    return state_->subject();
}

const std::string& log_backplane::bucket_name() const noexcept {
    return state_->bucket_name();
}

}  // namespace switchboard::routing::nats
