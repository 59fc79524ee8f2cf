#include "routing/nats/nats_backplane.hpp"

#include "routing/nats/cnats_options.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace switchboard::routing::nats {

namespace {

using clock = std::chrono::steady_clock;

// The NATS server's default max_control_line is 4 KiB and a longer PUB, SUB or MSG line makes
// it close the connection (which cnats would then resubscribe into again): a subject longer
// than this, with room for the verb, a sid and a size, is refused here instead.
constexpr std::size_t max_subject_bytes = 4000;
// NATS's default max_payload, until the server's INFO tells the real one.
constexpr std::int64_t default_max_payload = 1024 * 1024;

// Counts events that are worth a warning, with at most one log line per second: a long outage
// or a flood of bad input must not flood the log. Any thread.
class rate_limited_counter {
public:
    // The events since the last line when a line is due now, else 0.
    std::uint64_t add(std::uint64_t n = 1) {
        total_.fetch_add(n, std::memory_order_relaxed);
        since_log_.fetch_add(n, std::memory_order_relaxed);
        const auto now = clock::now().time_since_epoch().count();
        auto last = last_log_.load(std::memory_order_relaxed);
        if (now - last < std::chrono::nanoseconds(std::chrono::seconds(1)).count() ||
            !last_log_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
            return 0;
        }
        return since_log_.exchange(0, std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t total() const { return total_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> since_log_{0};
    std::atomic<clock::rep> last_log_{0};
};

}  // namespace

// Everything cnats callbacks, the helper thread and posted jobs touch. cnats holds references
// as raw closures: one for the connection callbacks (released by the closed callback, the
// connection's last) and one per subscription (released by its completion callback, after its
// last message callback returned), so the state outlives every callback.
class nats_backplane::state : public std::enable_shared_from_this<state> {
public:
    state(boost::asio::io_context& context, backplane_options options)
        : context_(context),
          options_(std::move(options)),
          codec_(options_.connection.subject_prefix) {}

    ~state() {
        if (nats_options_ != nullptr) {
            natsOptions_Destroy(nats_options_);
        }
    }

    // At construction: fails with std::invalid_argument on options cnats refuses (a CA file
    // that cannot be read), so a bad spec stops the server at startup with the reason.
    void build_options() {
        open_library();
        natsOptions* opts = nullptr;
        check(natsOptions_Create(&opts), "options");
        nats_options_ = opts;
        const auto& c = options_.connection;
        apply_connection(opts, c, "NATS");
        check(natsOptions_SetName(opts, c.name.c_str()), "name");
        check(natsOptions_SetNoEcho(opts, true), "no_echo");
        apply_reconnect(
            opts,
            {options_.connect_timeout, options_.reconnect_wait, options_.reconnect_jitter,
             options_.reconnect_jitter_tls, options_.max_buffered_bytes},
            "NATS");
        check(natsOptions_UseGlobalMessageDelivery(opts, true), "delivery");
        check(natsOptions_SetMaxPendingMsgs(opts, options_.pending_messages_limit), "pending");
        // Last: from here on the options hold the connection closure (see the class comment).
        connection_closure_ = new std::shared_ptr<state>(shared_from_this());
        apply_lifecycle(opts, {on_connected, on_disconnected, on_reconnected, on_closed},
                        connection_closure_, "NATS");
    }

    // Control shard.
    void start(backplane_handler& handler) {
        if (started_ || stopped_) {
            return;
        }
        started_ = true;
        handler_ = &handler;
        helper_ = std::thread([self = shared_from_this()] { self->helper_main(); });
    }

    // Control shard, or after its threads stopped.
    void stop() {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        handler_ = nullptr;
        {
            std::lock_guard lock(gate_mutex_);
            open_ = false;  // nothing reaches the control shard from here on
        }
        {
            std::lock_guard lock(helper_mutex_);
            helper_stop_ = true;
        }
        helper_wake_.notify_one();
        auto* nc = connection_.load();
        // Closed with the connection below and freed after it, once the reader thread is
        // joined (retired_subscriptions).
        const auto channels = std::move(channels_);
        channels_.clear();
        if (const auto timer = resume_timer_.lock()) {
            timer->cancel();
        }
        held_.clear();
        held_bytes_ = 0;
        if (nc != nullptr) {
            natsConnection_Close(nc);  // also ends a flush the helper waits on
        }
        if (helper_.joinable()) {
            helper_.join();
        }
        nc = connection_.exchange(nullptr);
        if (nc != nullptr) {
            natsConnection_Close(nc);  // the helper may have connected after the first look
            natsConnection_Destroy(nc);
        } else if (connection_closure_ != nullptr) {
            delete connection_closure_;  // never handed to a connection: no closed callback
        }
        connection_closure_ = nullptr;
        for (const auto& [channel, entry] : channels) {
            if (entry.subscription != nullptr) {
                natsSubscription_Destroy(entry.subscription);
            }
        }
        retired_.free_all();
        wait_for_callbacks(nc != nullptr);
        connected_ = false;
    }

    void subscribe(const std::string& channel) {
        if (stopped_) {
            return;
        }
        auto& entry = channels_[channel];
        if (++entry.count == 1) {
            if (auto* nc = connection_.load(); nc != nullptr) {
                add_subscription(nc, channel, entry);
            }  // else attach() subscribes it once the connection exists
        }
    }

    void unsubscribe(const std::string& channel) {
        const auto it = channels_.find(channel);
        if (stopped_ || it == channels_.end()) {
            return;
        }
        if (--it->second.count == 0) {
            // Messages already delivered to cnats still arrive and go to no local recipient.
            if (it->second.subscription != nullptr) {
                retired_.retire(it->second.subscription);
            }
            channels_.erase(it);
        }
    }

    // While the bus is down, and after it is back until the held publications went out,
    // publications wait here (in order) rather than in cnats' reconnect buffer, which would send
    // them the moment this instance reconnects: the other instances reconnect up to one retry
    // period later, and NATS keeps nothing for a subject nobody is subscribed to yet.
    void publish(const std::string& channel, const shared_buffer& payload) {
        if (stopped_) {
            return;
        }
        if (!holding_ && connected_) {
            return publish_now(channel, payload);
        }
        if (held_bytes_ + payload->size() > options_.max_buffered_bytes) {
            return count_drop("the outage buffer is full");
        }
        held_bytes_ += payload->size();
        held_.emplace_back(channel, payload);
        holding_ = true;
    }

    // Control shard, posted by the connection callbacks: the held publications go out after
    // `delay`, unless the bus went down again meanwhile (the next reconnect resumes then).
    void resume(std::chrono::milliseconds delay) {
        if (stopped_ || held_.empty()) {
            holding_ = false;
            return;
        }
        // A timer of its own, not a member: the state may outlive the io_context (cnats
        // releases it from its threads), and a member timer would outlive its service.
        auto timer = std::make_shared<boost::asio::steady_timer>(context_, delay);
        resume_timer_ = timer;
        timer->async_wait([self = shared_from_this(), timer](boost::system::error_code ec) {
            if (ec || self->stopped_ || !self->connected_) {
                return;
            }
            for (auto& [channel, payload] : self->held_) {
                self->publish_now(channel, payload);
            }
            self->held_.clear();
            self->held_bytes_ = 0;
            self->holding_ = false;
        });
    }

    void publish_now(const std::string& channel, const shared_buffer& payload) {
        auto* nc = connection_.load();
        if (nc == nullptr) {
            return count_drop("the NATS connection is still being made");
        }
        const auto subject = codec_.to_bus(channel);
        if (subject.size() > max_subject_bytes) {
            return count_drop("a channel name too long for a NATS subject");
        }
        const auto max_payload = max_payload_.load(std::memory_order_relaxed);
        if (static_cast<std::int64_t>(payload->size()) > max_payload) {
            return count_oversized(payload->size(), max_payload);
        }
        const auto status = natsConnection_Publish(nc, subject.c_str(), payload->data(),
                                                   static_cast<int>(payload->size()));
        if (status == NATS_MAX_PAYLOAD) {
            return count_oversized(payload->size(), max_payload_.load());
        }
        if (status == NATS_INSUFFICIENT_BUFFER) {
            return count_drop("the reconnect buffer is full");
        }
        if (status != NATS_OK) {
            return count_drop(natsStatus_GetText(status));
        }
    }

    void when_subscribed(std::function<void()> then) {
        if (stopped_ || !connected_ || connection_.load() == nullptr) {
            return then();  // the bus is down: the contract's "at once"
        }
        {
            std::lock_guard lock(helper_mutex_);
            flush_waiters_.push_back(std::move(then));
        }
        helper_wake_.notify_one();
    }

    [[nodiscard]] const channel_codec& codec() const noexcept { return codec_; }
    [[nodiscard]] bool connected() const { return connected_; }
    // Control shard.
    [[nodiscard]] std::size_t held_bytes() const noexcept { return held_bytes_; }
    [[nodiscard]] backplane_statistics statistics() const {
        return {dropped_.total(), oversized_.total(), undecodable_.total(),
                dropped_deliveries_.total(), reconnects_.load(std::memory_order_relaxed)};
    }

private:
    struct channel_entry {
        int count = 0;
        natsSubscription* subscription = nullptr;
    };
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    static void check(natsStatus status, const char* what) {
        routing::nats::check(status, "NATS", what);
    }

    // Control shard.
    void add_subscription(natsConnection* nc, const std::string& channel, channel_entry& entry) {
        const auto subject = codec_.to_bus(channel);
        if (subject.size() > max_subject_bytes) {
            spdlog::warn(
                "backplane: a channel name of {} bytes is too long for a NATS subject; "
                "it is not subscribed",
                channel.size());
            return;
        }
        auto* ticket = new std::shared_ptr<state>(shared_from_this());
        natsSubscription* sub = nullptr;
        auto status = natsConnection_Subscribe(&sub, nc, subject.c_str(), on_message, ticket);
        if (status != NATS_OK) {
            delete ticket;  // no subscription: no callback holds it
            spdlog::error("backplane: NATS subscribe failed: {}", natsStatus_GetText(status));
            return;
        }
        // Fails only for a subscription already closed (the connection closed in between); the
        // ticket is then left to it rather than freed under a callback that may still run.
        if (natsSubscription_SetOnCompleteCB(sub, on_subscription_complete, ticket) == NATS_OK) {
            std::lock_guard lock(release_mutex_);
            ++live_subscriptions_;
        }
        natsSubscription_SetPendingLimits(sub, options_.pending_messages_limit,
                                          options_.pending_bytes_limit);
        entry.subscription = sub;
    }

    // Control shard, once the helper made the connection: the channels subscribed before.
    void attach() {
        auto* nc = connection_.load();
        if (stopped_ || nc == nullptr) {
            return;
        }
        for (auto& [channel, entry] : channels_) {
            if (entry.subscription == nullptr) {
                add_subscription(nc, channel, entry);
            }
        }
    }

    template <class F>
    void post_if_open(F&& f) {
        // The lock makes "open" and "posted" one step, so stop() can close the gate and then
        // know that nothing reaches the io_context later; post only enqueues (no I/O).
        std::lock_guard lock(gate_mutex_);
        if (open_) {
            boost::asio::post(context_, std::forward<F>(f));
        }
    }

    // The helper thread: makes the connection, then runs flushes for when_subscribed.
    void helper_main() {
        natsConnection* nc = nullptr;
        const auto status = natsConnection_Connect(&nc, nats_options_);
        if (status == NATS_OK || status == NATS_NOT_YET_CONNECTED) {
            connection_.store(nc);
            refresh(nc);
            if (status == NATS_OK) {
                log_connected(nc, "connected to NATS");
            } else {
                spdlog::warn(
                    "backplane: NATS not reachable yet; retrying, publications are "
                    "buffered up to {} bytes",
                    options_.max_buffered_bytes);
            }
            post_if_open([self = shared_from_this()] { self->attach(); });
        } else {
            spdlog::error("backplane: cannot connect to NATS: {}", natsStatus_GetText(status));
        }
        std::unique_lock lock(helper_mutex_);
        while (true) {
            helper_wake_.wait(lock, [&] { return helper_stop_ || !flush_waiters_.empty(); });
            if (helper_stop_) {
                return;
            }
            auto batch = std::move(flush_waiters_);
            flush_waiters_.clear();
            lock.unlock();
            // One PING for every when_subscribed since the last: the PONG proves every SUB
            // written before it reached the server. A failure means the bus went down, when
            // the contract runs `then` at once anyway.
            if (nc != nullptr) {
                natsConnection_FlushTimeout(nc, options_.flush_timeout.count());
            }
            post_if_open([batch = std::move(batch)] {
                for (const auto& then : batch) {
                    then();
                }
            });
            lock.lock();
        }
    }

    void refresh(natsConnection* nc) {
        const bool up = natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
        if (up) {
            if (const auto max = natsConnection_GetMaxPayload(nc); max > 0) {
                max_payload_ = max;
            }
        }
        connected_ = up;
    }

    void log_connected(natsConnection* nc, const char* what) {
        char url[256] = {};
        natsConnection_GetConnectedUrl(nc, url, sizeof url);
        spdlog::info("backplane: {} at {}", what, url);
    }

    // cnats threads.
    static state& of(void* closure) { return **static_cast<std::shared_ptr<state>*>(closure); }

    static void on_connected(natsConnection* nc, void* closure) {
        auto& self = of(closure);
        self.refresh(nc);
        self.log_connected(nc, "connected to NATS");
        // The first connection: nobody can have missed anything yet.
        self.post_if_open([s = self.shared_from_this()] { s->resume({}); });
    }
    static void on_reconnected(natsConnection* nc, void* closure) {
        auto& self = of(closure);
        self.reconnects_.fetch_add(1, std::memory_order_relaxed);
        self.refresh(nc);
        self.log_connected(nc, "reconnected to NATS");
        self.post_if_open([s = self.shared_from_this()] { s->resume(s->resume_delay()); });
    }
    // The other instances, retrying on the same period, are back within one retry period and
    // its jitter of this one; the margin covers their resubscription and, in a cluster, the
    // routes' interest propagation after a restart of every node.
    [[nodiscard]] std::chrono::milliseconds resume_delay() const {
        const auto jitter =
            options_.connection.tls ? options_.reconnect_jitter_tls : options_.reconnect_jitter;
        return options_.reconnect_wait + jitter + options_.resume_margin;
    }
    static void on_disconnected(natsConnection* nc, void* closure) {
        auto& self = of(closure);
        const bool was_up = self.connected_.exchange(false);
        self.refresh(nc);
        if (was_up && !self.stopped_) {
            spdlog::warn(
                "backplane: lost NATS; publications wait in a {}-byte buffer until it "
                "is back",
                self.options_.max_buffered_bytes);
        }
    }
    static void on_closed(natsConnection*, void* closure) {
        auto* owner = static_cast<std::shared_ptr<state>*>(closure);
        const auto self = *owner;
        delete owner;  // the connection's last callback
        self->connected_ = false;
        self->release([&] { self->closed_ = true; });
    }
    static void on_subscription_complete(void* closure) {
        auto* owner = static_cast<std::shared_ptr<state>*>(closure);
        const auto self = *owner;
        delete owner;  // after the subscription's last message callback
        self->release([&] { --self->live_subscriptions_; });
    }

    // Records that cnats let go of a closure, for stop() to wait on.
    template <class F>
    void release(F f) {
        {
            std::lock_guard lock(release_mutex_);
            f();
        }
        released_.notify_all();
    }

    // stop(): cnats runs the closed and completion callbacks on its own threads just after
    // the close; waiting for them means no callback runs once stop() returned (and nothing is
    // left for a leak checker at exit). Bounded, since a lost callback must not hang shutdown.
    void wait_for_callbacks(bool connection_made) {
        std::unique_lock lock(release_mutex_);
        const bool done = released_.wait_for(lock, std::chrono::seconds(5), [&] {
            return (closed_ || !connection_made) && live_subscriptions_ == 0;
        });
        if (!done) {
            spdlog::warn("backplane: NATS callbacks still pending after the close");
        }
    }

    static void on_message(natsConnection*, natsSubscription*, natsMsg* message, void* closure) {
        auto& owner = *static_cast<std::shared_ptr<state>*>(closure);
        owner->receive(owner, message);
    }

    void receive(const std::shared_ptr<state>& self, natsMsg* message) {
        auto channel = codec_.from_bus(natsMsg_GetSubject(message));
        if (!channel) {
            natsMsg_Destroy(message);
            if (const auto n = undecodable_.add(); n > 0) {
                spdlog::warn(
                    "backplane: dropped {} NATS message(s) on subjects this bus does "
                    "not make (total {})",
                    n, undecodable_.total());
            }
            return;
        }
        const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(message));
        auto payload = make_shared_buffer(std::string(natsMsg_GetData(message), size));
        natsMsg_Destroy(message);
        const auto messages = in_flight_messages_.fetch_add(1) + 1;
        const auto bytes = in_flight_bytes_.fetch_add(size) + size;
        if (messages > options_.max_in_flight_messages || bytes > options_.max_in_flight_bytes) {
            in_flight_messages_.fetch_sub(1);
            in_flight_bytes_.fetch_sub(size);
            if (const auto n = dropped_deliveries_.add(); n > 0) {
                spdlog::warn(
                    "backplane: the control shard is behind; dropped {} NATS "
                    "message(s) (total {})",
                    n, dropped_deliveries_.total());
            }
            return;
        }
        bool post = false;
        {
            std::lock_guard lock(inbox_mutex_);
            inbox_.push_back({std::move(*channel), std::move(payload), size});
            post = !drain_posted_;
            drain_posted_ = true;
        }
        // One job per batch, not per message: a post wakes the shard, and at a hundred
        // thousand messages a second the wake-ups were most of the cost.
        if (post) {
            post_if_open([self] { self->drain_inbox(); });
        }
    }

    // Control shard: hands every message that arrived since the last drain to the router.
    void drain_inbox() {
        std::vector<delivery> batch;
        {
            std::lock_guard lock(inbox_mutex_);
            batch.swap(inbox_);
            drain_posted_ = false;
        }
        for (const auto& d : batch) {
            in_flight_messages_.fetch_sub(1);
            in_flight_bytes_.fetch_sub(d.size);
            if (handler_ != nullptr) {
                handler_->on_backplane_message(d.channel, d.payload);
            }
        }
    }

    void count_drop(const char* reason) {
        if (const auto n = dropped_.add(); n > 0) {
            spdlog::warn("backplane: dropped {} NATS publication(s) (total {}): {}", n,
                         dropped_.total(), reason);
        }
    }

    void count_oversized(std::size_t size, std::int64_t max_payload) {
        oversized_.add();
        if (const auto n = dropped_.add(); n > 0) {
            spdlog::warn(
                "backplane: dropped {} NATS publication(s) (total {}); the last was {} "
                "bytes, over the server's max_payload of {} bytes",
                n, dropped_.total(), size, max_payload);
        }
    }

    boost::asio::io_context& context_;
    const backplane_options options_;
    const token_channel_codec codec_;
    natsOptions* nats_options_ = nullptr;
    std::shared_ptr<state>* connection_closure_ = nullptr;

    // Control shard only.
    backplane_handler* handler_ = nullptr;
    bool started_ = false;
    std::unordered_map<std::string, channel_entry, string_hash, std::equal_to<>> channels_;
    retired_subscriptions retired_;
    // Publications waiting for the bus (publish()); bounded by options_.max_buffered_bytes.
    std::deque<std::pair<std::string, shared_buffer>> held_;
    std::size_t held_bytes_ = 0;
    bool holding_ = false;  // held_ not yet sent: later publications queue behind it
    std::weak_ptr<boost::asio::steady_timer> resume_timer_;  // the pending resume(), if any

    // Written by the helper once, read by the control shard and stop().
    std::atomic<natsConnection*> connection_{nullptr};
    std::atomic<bool> stopped_{false};
    std::atomic<bool> connected_{false};
    std::atomic<std::int64_t> max_payload_{default_max_payload};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::size_t> in_flight_messages_{0};
    std::atomic<std::size_t> in_flight_bytes_{0};
    rate_limited_counter dropped_;
    rate_limited_counter oversized_;
    rate_limited_counter undecodable_;
    rate_limited_counter dropped_deliveries_;

    std::mutex gate_mutex_;
    bool open_ = true;

    // Messages from cnats' delivery thread waiting for the control shard (receive()); bounded
    // by max_in_flight_*. Lock order: inbox_mutex_ before gate_mutex_.
    struct delivery {
        std::string channel;
        shared_buffer payload;
        std::size_t size = 0;
    };
    std::mutex inbox_mutex_;
    std::vector<delivery> inbox_;
    bool drain_posted_ = false;

    std::mutex release_mutex_;
    std::condition_variable released_;
    bool closed_ = false;
    int live_subscriptions_ = 0;

    std::thread helper_;
    std::mutex helper_mutex_;
    std::condition_variable helper_wake_;
    bool helper_stop_ = false;
    // Bounded by the when_subscribed calls of one flush round trip: each batch is taken whole.
    std::vector<std::function<void()>> flush_waiters_;
};

nats_backplane::nats_backplane(boost::asio::io_context& context, backplane_options options)
    : context_(context), state_(std::make_shared<state>(context, std::move(options))) {
    try {
        state_->build_options();
    } catch (...) {
        state_->stop();  // frees the connection closure if it was made
        throw;
    }
}

nats_backplane::~nats_backplane() {
    stop();
}

template <class F>
void nats_backplane::run(F f) {
    // Inline on the control shard (the router's own calls), posted from the others.
    boost::asio::dispatch(context_, std::move(f));
}

void nats_backplane::start(backplane_handler& handler) {
    run([s = state_, h = &handler] { s->start(*h); });
}

void nats_backplane::stop() {
    state_->stop();
}

void nats_backplane::subscribe(const std::string& channel) {
    run([s = state_, channel] { s->subscribe(channel); });
}

void nats_backplane::unsubscribe(const std::string& channel) {
    run([s = state_, channel] { s->unsubscribe(channel); });
}

void nats_backplane::publish(const std::string& channel, shared_buffer payload) {
    if (context_.get_executor().running_in_this_thread()) {
        return state_->publish(channel, payload);
    }
    run([s = state_, channel, payload = std::move(payload)] { s->publish(channel, payload); });
}

void nats_backplane::when_subscribed(const std::string& channel, std::function<void()> then) {
    (void)channel;  // one flush covers every SUB written before it
    run([s = state_, then = std::move(then)]() mutable { s->when_subscribed(std::move(then)); });
}

const channel_codec& nats_backplane::codec() const noexcept {
    return state_->codec();
}

bool nats_backplane::connected() const {
    return state_->connected();
}

std::uint64_t nats_backplane::dropped_publications() const {
    return state_->statistics().dropped_publications;
}

std::uint64_t nats_backplane::rejected_messages() const {
    const auto s = state_->statistics();
    return s.undecodable_subjects + s.dropped_deliveries;
}

std::size_t nats_backplane::buffered_bytes() const {
    return state_->held_bytes();
}

std::uint64_t nats_backplane::reconnects() const {
    return state_->statistics().reconnects;
}

backplane_statistics nats_backplane::statistics() const {
    return state_->statistics();
}

}  // namespace switchboard::routing::nats
