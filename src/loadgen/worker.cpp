#include "loadgen/worker.hpp"

#include "client/peer_client.hpp"
#include "loadgen/sse_subscriber.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

namespace switchboard::loadgen {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The server closes clients silent for 30 s by default; a ping every 10 s keeps listeners in.
constexpr auto ping_interval = 10s;
// Stateful connections acknowledge what arrived at the official clients' rate.
constexpr auto ack_interval = 1s;

struct slot {
    std::size_t index = 0;  // in the plan, across all processes
    std::shared_ptr<client::hub_client> client;
    std::shared_ptr<client::peer_client> peer;  // --target socketio or nchan
    std::shared_ptr<sse_subscriber> sse;        // the sse scenarios
    bool sender = false;
    std::uint64_t sent = 0;
    std::uint64_t quota = 0;  // messages this sender sends in the window
};

// One thread's connections. Counters are atomics only so that the main thread can print
// progress; each is written by the shard's thread alone.
class shard {
public:
    shard(const bench_options& options, const plan& plan, const std::vector<target>& servers,
          const std::vector<asio::ip::address>& sources)
        : options_(options),
          plan_(plan),
          servers_(servers),
          sources_(sources),
          tick_(context_),
          ping_(context_),
          ack_(context_) {}

    asio::io_context& context() { return context_; }

    void add(std::size_t index) {
        slot s;
        s.index = index;
        s.sender = plan_.is_sender(index);
        senders_ += s.sender ? 1 : 0;
        slots_.push_back(std::move(s));
    }

    // HTTP publishers (Nchan's, or Switchboard's events API) this shard opens before it counts
    // as connected: publishers_per_sender per sender, at most 64. Each keeps one request in
    // flight, so one alone caps its sender at a request per round trip, and a round trip
    // stretched by a busy core would queue the sender's next events in the generator.
    static constexpr std::size_t publishers_per_sender = 4;
    [[nodiscard]] std::size_t publishers_wanted() const noexcept {
        return options_.system == system_kind::nchan || is_sse(options_.kind)
                   ? std::min<std::size_t>(senders_ * publishers_per_sender, 64)
                   : 0;
    }

    // On the shard's thread from here on.
    void start_connecting() {
        for (std::size_t i = 0; i < publishers_wanted(); ++i) {
            auto publisher = std::make_shared<client::http_publisher>(context_.get_executor());
            publishers_.push_back(publisher);
            if (is_sse(options_.kind) && options_.system == system_kind::switchboard) {
                publisher->set_headers("application/json", options_.publish_key.empty()
                                                               ? std::string()
                                                               : "Bearer " + options_.publish_key);
            }
            publisher->on_close([this](const std::string& reason) {
                if (!closing_) {
                    note_error(reason);
                }
            });
            // Switchboard's event publishers take the instances in turn (publisher_for);
            // Nchan's post to the first.
            const auto& server = options_.system == system_kind::nchan
                                     ? servers_.front()
                                     : servers_[i % servers_.size()];
            publisher->start(server.endpoint, server.host, [this](const expected<void>& opened) {
                if (!opened) {
                    note_error(opened.error_message());
                }
                publishers_settled.fetch_add(1, std::memory_order_relaxed);
            });
        }
        const auto first = std::min(options_.connect_concurrency, slots_.size());
        for (std::size_t i = 0; i < first; ++i) {
            connect_next();
        }
        do_ping();
        if (options_.stateful) {
            do_ack();
        }
    }

    void start_sending(std::chrono::steady_clock::time_point start) {
        start_ns_ = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count());
        measuring_ = true;
        const auto seconds = std::chrono::duration<double>(options_.duration).count();
        for (auto& s : slots_) {
            if (s.sender) {
                // Message k of a sender leaves at (k + phase) / rate, for every such time
                // inside the window.
                const auto slots_in_window = seconds * options_.rate - plan_.phase_of(s.index);
                s.quota = slots_in_window > 0
                              ? static_cast<std::uint64_t>(std::ceil(slots_in_window))
                              : 0;
            }
        }
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i].sender) {
                schedule(i);
            }
        }
        do_tick();
    }

    void close_all() {
        tick_.cancel();
        ping_.cancel();
        ack_.cancel();
        closing_ = true;
        for (auto& s : slots_) {
            if (s.client) {
                s.client->close();
                s.client.reset();
            }
            if (s.peer) {
                s.peer->close();
                s.peer.reset();
            }
            if (s.sse) {
                s.sse->close();
                s.sse.reset();
            }
        }
        for (auto& p : publishers_) {
            publish_rejected += p->rejected();
            p->close();
        }
        publishers_.clear();
    }

    [[nodiscard]] std::uint64_t expected_deliveries() const {
        std::uint64_t total = 0;
        for (const auto& s : slots_) {
            total += s.sent * plan_.fanout_of(s.index);
        }
        return total;
    }

    std::atomic<std::uint64_t> connected{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> joined{0};
    std::atomic<std::uint64_t> closed{0};
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> traffic{0};             // every invocation, the hub's own included
    std::atomic<std::uint64_t> publishers_settled{0};  // Nchan publishers up or failed
    histogram latency;                                 // read once the thread has stopped
    histogram cross_latency;                           // likewise
    std::uint64_t on_time = 0;                         // likewise
    std::uint64_t publish_rejected = 0;                // likewise
    std::string first_error;                           // likewise

private:
    void connect_next() {
        if (next_ >= slots_.size()) {
            return;
        }
        auto& s = slots_[next_++];
        if (is_sse(options_.kind)) {
            return connect_sse(s);
        }
        if (options_.system != system_kind::switchboard) {
            return connect_peer(s);
        }
        const auto instance = plan_.instance_of(s.index);
        const auto& server = servers_[instance];
        auto client = std::make_shared<client::hub_client>(context_.get_executor());
        s.client = client;
        client::connect_options connect;
        aim(connect, s, server.path + "?user=" + plan_.user_of(s.index));
        connect.protocol = options_.protocol;
        connect.stateful = options_.stateful;
        client->set_record_filter([this](std::string_view record) {
            traffic.fetch_add(1, std::memory_order_relaxed);
            return might_be_measured(record);
        });
        client->on_invocation([this, instance](protocol::invocation_message& message) {
            on_invocation(message, instance);
        });
        client->on_completion([this, &s](protocol::completion_message& completion) {
            if (completion.error) {
                note_error("JoinGroup: " + *completion.error);
                failed.fetch_add(1, std::memory_order_relaxed);
                s.client->close();
            } else {
                joined.fetch_add(1, std::memory_order_relaxed);
            }
        });
        client->on_close([this](const std::string& reason) { on_lost(reason); });
        client->start(std::move(connect), [this, &s](const expected<void>& opened) {
            on_opened(opened, [this, &s] {
                if (const auto group = plan_.group_of(s.index); !group.empty()) {
                    s.client->send("JoinGroup", boost::json::array{group}, "join");
                }
            });
        });
    }

    void connect_peer(slot& s) {
        const auto instance = plan_.instance_of(s.index);
        const bool socketio = options_.system == system_kind::socketio;
        auto peer = std::make_shared<client::peer_client>(context_.get_executor());
        s.peer = peer;
        client::peer_connect_options connect;
        // Socket.IO reads the user from the handshake query as well as from auth.
        aim(connect, s,
            socketio ? "/socket.io/?EIO=4&transport=websocket&user=" + plan_.user_of(s.index)
                     : "/sub/" + plan_.nchan_subscribe_channel(s.index));
        connect.engine_io = socketio;
        peer->on_message([this, socketio, instance](std::string_view text) {
            if (!socketio) {
                return on_payload(text, instance);
            }
            const auto packet = client::parse_socketio_packet(text);
            if (!packet) {
                return;
            }
            if (packet->type == '3') {  // the ack of "group join"
                joined.fetch_add(1, std::memory_order_relaxed);
            } else if (packet->type == '2') {
                if (const auto payload = client::socketio_last_string(packet->data)) {
                    on_payload(*payload, instance);
                }
            }
        });
        peer->on_close([this](const std::string& reason) { on_lost(reason); });
        peer->start(std::move(connect), [this, &s, socketio](const expected<void>& opened) {
            on_opened(opened, [this, &s, socketio] {
                if (socketio && !plan_.group_of(s.index).empty()) {
                    s.peer->send(plan_.socketio_join(s.index));
                }
            });
        });
    }

    void connect_sse(slot& s) {
        const auto instance = plan_.instance_of(s.index);
        const auto& server = servers_[instance];
        auto subscriber = std::make_shared<sse_subscriber>(context_.get_executor());
        s.sse = subscriber;
        sse_subscriber::options connect;
        connect.server = server.endpoint;
        if (!sources_.empty()) {
            connect.source = sources_[s.index % sources_.size()];
        }
        connect.host = server.host;
        connect.target = plan_.sse_subscribe_target(s.index);
        subscriber->on_event([this, instance](std::string_view data) {
            traffic.fetch_add(1, std::memory_order_relaxed);
            on_payload(payload_of_event(data), instance);
        });
        subscriber->on_close([this](const std::string& reason) { on_lost(reason); });
        subscriber->start(std::move(connect),
                          [this](const expected<void>& opened) { on_opened(opened, [] {}); });
    }

    // Where slot `s` connects, for either client's options: its instance, its source address
    // (round-robin), and `target` (path and query).
    template <class ConnectOptions>
    void aim(ConnectOptions& connect, const slot& s, std::string target) const {
        const auto& server = servers_[plan_.instance_of(s.index)];
        connect.server = server.endpoint;
        if (!sources_.empty()) {
            connect.source = sources_[s.index % sources_.size()];
        }
        connect.host = server.host;
        connect.target = std::move(target);
    }

    // A connection attempt ended: counted, `on_open` run when it opened, then the next one.
    template <class OnOpen>
    void on_opened(const expected<void>& opened, OnOpen&& on_open) {
        if (!opened) {
            if (!closing_) {
                note_error(opened.error_message());
            }
            failed.fetch_add(1, std::memory_order_relaxed);
        } else {
            connected.fetch_add(1, std::memory_order_relaxed);
            on_open();
        }
        if (!closing_) {
            connect_next();
        }
    }

    // An open connection ended; during shutdown that is expected and not counted.
    void on_lost(const std::string& reason) {
        if (!closing_) {
            note_error(reason);
            closed.fetch_add(1, std::memory_order_relaxed);
        }
    }

    // A delivery to a connection on `instance`: the payload as the generator wrote it.
    void on_payload(std::string_view text, std::size_t instance) {
        if (!measuring_) {
            return;
        }
        const auto sent_at = read_payload(text);
        if (!sent_at) {
            return;
        }
        const auto now = steady_ns();
        const auto elapsed = now > *sent_at ? now - *sent_at : 0;
        latency.record(elapsed);
        if (elapsed <= deadline_ns_) {
            ++on_time;
        }
        if (crossed_instances(read_origin(text), instance, servers_.size())) {
            cross_latency.record(elapsed);
        }
        received.fetch_add(1, std::memory_order_relaxed);
    }

    // The publisher for message `sent` of sender `index`: on the instance the sender publishes
    // to (publishers i, i + n, ... are on instance i of n), the sender's own ones in turn.
    [[nodiscard]] std::size_t publisher_for(const slot& s) const noexcept {
        const auto n = options_.system == system_kind::nchan ? 1 : servers_.size();
        const auto instance = plan_.publish_instance_of(s.index) % std::min(n, publishers_.size());
        const auto on_instance = (publishers_.size() - instance + n - 1) / n;
        const auto own = plan_.sender_ordinal(s.index) / n * publishers_per_sender +
                         s.sent % publishers_per_sender;
        return instance + n * (own % on_instance);
    }

    // Sends one message for slot `s` with the text in text_; false if its connection is gone.
    bool send_one(slot& s) {
        if (is_sse(options_.kind)) {
            if (publishers_.empty()) {
                return false;
            }
            auto& publisher = *publishers_[publisher_for(s)];
            if (!publisher.is_open()) {
                return false;
            }
            plan_.sse_publish_request(s.index, text_, target_, packet_);
            publisher.post(target_, packet_);
            return true;
        }
        switch (options_.system) {
        case system_kind::switchboard:
            if (!s.client || !s.client->is_open()) {
                return false;
            }
            plan_.message_from(s.index, text_, method_, arguments_);
            s.client->send(method_, arguments_);
            return true;
        case system_kind::socketio:
            if (!s.peer || !s.peer->is_open()) {
                return false;
            }
            plan_.socketio_message_from(s.index, text_, packet_);
            s.peer->send(packet_);
            return true;
        case system_kind::nchan: {
            if (publishers_.empty()) {
                return false;
            }
            // Each sender its own publishers, in turn (publisher_for).
            auto& publisher = *publishers_[publisher_for(s)];
            if (!publisher.is_open()) {
                return false;
            }
            publisher.post("/pub/" + plan_.nchan_publish_channel(s.index), text_);
            return true;
        }
        }
        return false;
    }

    // Measured messages name a Receive* target; completions answer JoinGroup, and a close
    // message ends the connection. Every other message (UserConnected, UserJoinedGroup, pings)
    // is counted as traffic only.
    [[nodiscard]] bool might_be_measured(std::string_view record) const {
        const bool json = options_.protocol == client::hub_protocol::json;
        // MessagePack: [type, ...], the type right after the array's header byte.
        const auto is_type = [&](char type, std::string_view json_text) {
            return json ? record.find(json_text) != std::string_view::npos
                        : record.size() > 1 && record[1] == type;
        };
        // The measured messages first: they are nearly all of the traffic in the window.
        return (measuring_ && record.find("Receive") != std::string_view::npos) ||
               is_type('\x03', R"("type":3)") || is_type('\x07', R"("type":7)");
    }

    void on_invocation(protocol::invocation_message& message, std::size_t instance) {
        if (!measuring_ || message.arguments.empty()) {
            return;
        }
        const auto& target = message.target;
        if (target != "ReceiveMessage" && target != "ReceiveDirectMessage" &&
            target != "ReceiveGroupMessage") {
            return;
        }
        if (const auto* text = message.arguments.back().if_string()) {
            on_payload(*text, instance);
        }
    }

    // When message `k` of slot `i` is due, in steady_ns() time.
    [[nodiscard]] std::uint64_t due_ns(const slot& s) const {
        const auto seconds =
            (static_cast<double>(s.sent) + plan_.phase_of(s.index)) / options_.rate;
        return start_ns_ + static_cast<std::uint64_t>(seconds * 1e9);
    }

    void schedule(std::size_t i) {
        auto& s = slots_[i];
        if (s.sent < s.quota) {
            schedule_.emplace(due_ns(s), i);
        }
    }

    // Sends whatever is due, then sleeps until the next message is: each leaves on time to the
    // timer's precision (timerfd), whatever the rate.
    void do_tick() {
        const auto now = steady_ns();
        while (!schedule_.empty() && schedule_.top().first <= now) {
            const auto [due, i] = schedule_.top();
            schedule_.pop();
            auto& s = slots_[i];
            // The time the message was due, not the time this ran: a busy generator's delay
            // shows in the latency instead of hiding it.
            // The origin only with several instances: it tells cross-instance deliveries apart.
            write_payload(due, options_.message_size, text_,
                          servers_.size() > 1
                              ? std::optional<std::size_t>(plan_.publish_instance_of(s.index))
                              : std::nullopt);
            if (!send_one(s)) {
                s.quota = s.sent;  // a closed sender stops: its lost sends are not counted
                continue;
            }
            ++s.sent;
            sent.fetch_add(1, std::memory_order_relaxed);
            schedule(i);
        }
        if (schedule_.empty()) {
            return;
        }
        tick_.expires_after(std::chrono::nanoseconds(schedule_.top().first - now));
        tick_.async_wait([this](boost::system::error_code ec) {
            if (!ec) {
                do_tick();
            }
        });
    }

    void do_ping() {
        ping_.expires_after(ping_interval);
        ping_.async_wait([this](boost::system::error_code ec) {
            if (ec || closing_) {  // as do_ack
                return;
            }
            // Socket.IO's server pings the client instead, and Nchan needs no keep-alive.
            for (auto& s : slots_) {
                if (s.client) {
                    s.client->send_ping();
                }
            }
            do_ping();
        });
    }

    // One timer for the shard's connections rather than one per connection: each acks what it
    // received since its last Ack (nothing when nothing is new).
    void do_ack() {
        ack_.expires_after(ack_interval);
        ack_.async_wait([this](boost::system::error_code ec) {
            // A wait that had already fired when close_all() cancelled it must not re-arm:
            // the thread would never run out of work and stop.
            if (ec || closing_) {
                return;
            }
            for (auto& s : slots_) {
                if (s.client) {
                    s.client->send_ack();
                }
            }
            do_ack();
        });
    }

    void note_error(const std::string& reason) {
        if (first_error.empty()) {
            first_error = reason;
        }
    }

    const bench_options& options_;
    const plan& plan_;
    const std::vector<target>& servers_;
    const std::vector<asio::ip::address>& sources_;
    asio::io_context context_{1};
    asio::steady_timer tick_;
    asio::steady_timer ping_;
    asio::steady_timer ack_;
    std::vector<slot> slots_;
    std::size_t next_ = 0;
    bool measuring_ = false;
    bool closing_ = false;
    std::uint64_t start_ns_ = 0;  // the window's start, as steady_ns() counts
    std::uint64_t deadline_ns_ = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.deadline).count());
    // (due time, slot): the next message of every sender, earliest first.
    using entry = std::pair<std::uint64_t, std::size_t>;
    std::priority_queue<entry, std::vector<entry>, std::greater<>> schedule_;
    std::size_t senders_ = 0;
    std::vector<std::shared_ptr<client::http_publisher>> publishers_;
    std::string text_;
    std::string packet_;
    std::string target_;
    std::string_view method_;
    boost::json::array arguments_;
};

struct totals {
    std::uint64_t connected = 0, failed = 0, joined = 0, closed = 0, sent = 0, received = 0,
                  traffic = 0;
};

totals sum(const std::vector<std::unique_ptr<shard>>& shards) {
    totals t;
    for (const auto& s : shards) {
        t.connected += s->connected.load(std::memory_order_relaxed);
        t.failed += s->failed.load(std::memory_order_relaxed);
        t.joined += s->joined.load(std::memory_order_relaxed);
        t.closed += s->closed.load(std::memory_order_relaxed);
        t.sent += s->sent.load(std::memory_order_relaxed);
        t.received += s->received.load(std::memory_order_relaxed);
        t.traffic += s->traffic.load(std::memory_order_relaxed);
    }
    return t;
}

// Polls `done` every 50 ms until it holds or `limit` passes; `each_second` prints progress.
template <class Done, class Progress>
bool wait_until(std::chrono::steady_clock::duration limit, Done done, Progress each_second) {
    const auto start = std::chrono::steady_clock::now();
    auto next_report = start + 1s;
    for (;;) {
        if (done()) {
            return true;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - start >= limit) {
            return false;
        }
        if (now >= next_report) {
            each_second(std::chrono::duration<double>(now - start).count());
            next_report += 1s;
        }
        std::this_thread::sleep_for(50ms);
    }
}

// User and system CPU of this process, every thread included.
double process_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

expected<worker_result> run_worker(const bench_options& options, std::size_t first,
                                   std::size_t count, const ready_barrier& barrier,
                                   const std::string& label) {
    std::vector<target> servers;
    for (const auto& url : options.urls) {
        auto server = parse_target(url);
        if (!server) {
            return server.get_error();
        }
        servers.push_back(std::move(*server));
    }
    if (servers.empty()) {
        return make_error("--url: at least one server");
    }
    auto sources = parse_source_addresses(options.source_addresses);
    if (!sources) {
        return sources.get_error();
    }
    const plan plan(options);
    // Nchan has no join: a group is the channel a connection subscribes to.
    const bool groups = (options.kind == scenario::group || options.kind == scenario::big_group) &&
                        options.system != system_kind::nchan;

    const auto thread_count = std::max<std::size_t>(1, std::min(options.threads, count));
    std::vector<std::unique_ptr<shard>> shards;
    for (std::size_t i = 0; i < thread_count; ++i) {
        shards.push_back(std::make_unique<shard>(options, plan, servers, *sources));
    }
    for (std::size_t i = 0; i < count; ++i) {
        shards[i % thread_count]->add(first + i);
    }
    using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;
    std::vector<work_guard> guards;
    std::vector<std::thread> threads;
    for (auto& s : shards) {
        guards.push_back(asio::make_work_guard(s->context()));
        threads.emplace_back([&context = s->context()] { context.run(); });
    }
    const auto stop = [&] {
        for (auto& s : shards) {
            asio::post(s->context(), [&s = *s] { s.close_all(); });
        }
        guards.clear();
        for (auto& t : threads) {
            t.join();
        }
    };

    // Connect, and join the groups.
    for (auto& s : shards) {
        asio::post(s->context(), [&s = *s] { s.start_connecting(); });
    }
    const auto settled = [&] {
        const auto t = sum(shards);
        for (const auto& s : shards) {
            if (s->publishers_settled.load(std::memory_order_relaxed) < s->publishers_wanted()) {
                return false;
            }
        }
        return t.connected + t.failed == count && (!groups || t.joined + t.failed >= count);
    };
    // Bounded without capping large runs: every attempt ends within the connect and WebSocket
    // handshake timeouts (30 s each), so a minute without progress means something is stuck.
    std::uint64_t last_progress = 0;
    auto progress_at = std::chrono::steady_clock::now();
    const bool all_up =
        wait_until(
            std::chrono::hours(24),
            [&] {
                const auto t = sum(shards);
                const auto now = std::chrono::steady_clock::now();
                if (t.connected + t.failed + t.joined != last_progress) {
                    last_progress = t.connected + t.failed + t.joined;
                    progress_at = now;
                }
                return settled() || now - progress_at >= 60s;
            },
            [&](double elapsed) {
                const auto t = sum(shards);
                std::fprintf(stderr, "[%s] connecting %.0fs: %llu/%zu up, %llu failed\n",
                             label.c_str(), elapsed, static_cast<unsigned long long>(t.connected),
                             count, static_cast<unsigned long long>(t.failed));
            }) &&
        settled();

    // The hub announces every arrival to everyone (UserConnected, UserJoinedGroup): let that
    // wave pass before the window opens, or it would queue ahead of the measured messages.
    std::uint64_t last_traffic = ~std::uint64_t{0};
    auto quiet_since = std::chrono::steady_clock::now();
    wait_until(
        30s,
        [&] {
            const auto traffic = sum(shards).traffic;
            const auto now = std::chrono::steady_clock::now();
            if (traffic != last_traffic) {
                last_traffic = traffic;
                quiet_since = now;
            }
            return now - quiet_since >= 300ms;
        },
        [](double) {});

    worker_result result;
    {
        const auto t = sum(shards);
        result.connected = t.connected;
        result.connect_failures = count - t.connected;
    }
    if (!all_up) {
        result.first_error = "connecting stalled: no progress for 60 s";
        std::fprintf(stderr, "[%s] %s; going on with %llu connections\n", label.c_str(),
                     result.first_error.c_str(), static_cast<unsigned long long>(result.connected));
    }
    barrier(result);

    // The window.
    const auto cpu_at_start = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    for (auto& s : shards) {
        asio::post(s->context(), [&s = *s, start] { s.start_sending(start); });
    }
    totals last{};
    wait_until(
        options.duration, [] { return false; },
        [&](double elapsed) {
            const auto t = sum(shards);
            std::fprintf(stderr,
                         "[%s] %.0fs: %llu connections, sent %llu (%llu/s), delivered %llu "
                         "(%llu/s), closed %llu\n",
                         label.c_str(), elapsed, static_cast<unsigned long long>(t.connected),
                         static_cast<unsigned long long>(t.sent),
                         static_cast<unsigned long long>(t.sent - last.sent),
                         static_cast<unsigned long long>(t.received),
                         static_cast<unsigned long long>(t.received - last.received),
                         static_cast<unsigned long long>(t.closed));
            last = t;
        });
    result.send_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Drain: what is still in flight arrives within a few hundred milliseconds on loopback;
    // a delivery later than the 10 s bound counts as lost.
    std::uint64_t last_received = ~std::uint64_t{0};
    quiet_since = std::chrono::steady_clock::now();
    wait_until(
        10s,
        [&] {
            const auto t = sum(shards);
            const auto now = std::chrono::steady_clock::now();
            if (t.received != last_received) {
                last_received = t.received;
                quiet_since = now;
            }
            return now - quiet_since >= 500ms;
        },
        [](double) {});

    result.drain_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() -
        result.send_seconds;
    result.cpu_seconds = process_cpu_seconds() - cpu_at_start;
    stop();
    const auto t = sum(shards);
    result.closed = t.closed;
    result.sent = t.sent;
    result.received = t.received;
    for (const auto& s : shards) {
        result.expected += s->expected_deliveries();
        result.latency.merge(s->latency);
        result.cross_latency.merge(s->cross_latency);
        result.on_time += s->on_time;
        result.publish_rejected += s->publish_rejected;
        if (result.first_error.empty()) {
            result.first_error = s->first_error;
        }
    }
    return result;
}

}  // namespace switchboard::loadgen
