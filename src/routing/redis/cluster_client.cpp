#include "routing/redis/cluster_client.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <utility>
#include <vector>

namespace switchboard::routing::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in Redis's crc16.c.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
    std::array<std::uint16_t, 256> table{};
    for (unsigned byte = 0; byte < 256; ++byte) {
        auto crc = static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = static_cast<std::uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
        }
        table[byte] = crc;
    }
    return table;
}

constexpr auto crc16_table = make_crc16_table();

std::uint16_t crc16(std::string_view data) noexcept {
    std::uint16_t crc = 0;
    for (const char c : data) {
        const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
        crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[index]);
    }
    return crc;
}

std::string_view reply_string(const redisReply* reply) {
    return {reply->str, reply->len};
}

// At most one discovery per interval: a burst of -MOVED replies while a cluster reshards
// becomes a handful of CLUSTER SLOTS, not one per publish.
constexpr std::chrono::milliseconds min_discovery_interval{100};
// A cluster with slots nobody serves (forming, or a shard down without a replica) is asked
// again at this pace: soon enough to notice the repair, rare enough to cost nothing.
constexpr std::chrono::milliseconds incomplete_retry_interval{1000};

struct slot_range {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    std::string host;
    std::uint16_t port = 0;
};

// CLUSTER SLOTS: [[first, last, [host, port, id, ...], replicas...], ...]. Masters only; an
// empty host means "the node you asked" (Redis does not know its own address), "?" an
// unknown one, skipped.
bool parse_cluster_slots(const redisReply& reply, const std::string& asked_host,
                         std::vector<slot_range>& out) {
    if (reply.type != REDIS_REPLY_ARRAY) {
        return false;
    }
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const auto* entry = reply.element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 3 ||
            entry->element[0]->type != REDIS_REPLY_INTEGER ||
            entry->element[1]->type != REDIS_REPLY_INTEGER ||
            entry->element[2]->type != REDIS_REPLY_ARRAY || entry->element[2]->elements < 2) {
            return false;
        }
        const auto* master = entry->element[2];
        const auto first = entry->element[0]->integer;
        const auto last = entry->element[1]->integer;
        if (master->element[0]->type != REDIS_REPLY_STRING ||
            master->element[1]->type != REDIS_REPLY_INTEGER || first < 0 || last < first ||
            last >= cluster_slot_count || master->element[1]->integer <= 0 ||
            master->element[1]->integer > 65535) {
            return false;
        }
        std::string host(reply_string(master->element[0]));
        if (host == "?") {
            continue;
        }
        if (host.empty()) {
            host = asked_host;
        }
        out.push_back({static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last),
                       std::move(host), static_cast<std::uint16_t>(master->element[1]->integer)});
    }
    return true;
}

void add(client_statistics& into, const client_statistics& more) {
    into.published += more.published;
    into.acknowledged += more.acknowledged;
    into.dropped += more.dropped;
    into.dropped_bytes += more.dropped_bytes;
    into.received += more.received;
    into.reconnects += more.reconnects;
    into.error_replies += more.error_replies;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
    if (const auto open = key.find('{'); open != std::string_view::npos) {
        const auto close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) {
            key = key.substr(open + 1, close - open - 1);
        }
    }
    return crc16(key) & (cluster_slot_count - 1);
}

class cluster_client::impl : public std::enable_shared_from_this<cluster_client::impl> {
public:
    // One master (or a seed not yet known to be one) and its connection pair.
    struct node {
        std::string host;
        std::uint16_t port = 0;
        std::unique_ptr<redis_client> client;
        bool connected = false;
        std::size_t slots = 0;  // owned in slots_
    };

    impl(asio::io_context& context, client_options options)
        : context_(context), options_(std::move(options)), timer_(context) {
        options_.connection.sharded = true;
        // The constructor of a node's client is where a bad option throws: try one now, at
        // startup, rather than when the first node is discovered.
        redis_client probe(context_, options_);
        slots_.fill(nullptr);
    }

    void start() {
        stopped_ = false;
        if (nodes_.empty()) {
            add_seeds();
        }
        for (auto& [key, n] : nodes_) {
            n->client->start();
        }
    }

    void stop() {
        stopped_ = true;
        timer_.cancel();
        timer_pending_ = false;
        discovering_ = nullptr;
        for (auto& [key, n] : nodes_) {
            n->client->stop();
            n->connected = false;
        }
        pending_.clear();
        pending_bytes_ = 0;
        // No handler runs after stop(): the next start() reports its first connect afresh.
        reported_connected_ = false;
    }

    bool publish(std::string_view channel, shared_buffer payload) {
        if (!payload) {
            payload = make_shared_buffer({});
        }
        if (auto* owner = slots_[key_slot(channel)]) {
            return owner->client->publish(channel, std::move(payload));
        }
        // Roughly what the node client will count for it once encoded.
        const auto size = channel.size() + payload->size() + 32;
        if (!reserve_pending(size)) {
            return false;
        }
        pending_.push_back({std::string(channel), std::move(payload), {}, {}, size});
        return true;
    }

    bool command(std::string_view key, const std::vector<std::string>& arguments,
                 reply_handler handler) {
        // Raw `this`: as the node clients' other handlers (ensure_node).
        reply_handler follow = [this, handler = std::move(handler)](const redisReply* reply) {
            if (reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
                is_redirection(reply_string(reply))) {
                request_discovery();
            }
            handler(reply);
        };
        if (auto* owner = slots_[key_slot(key)]) {
            return owner->client->command(arguments, std::move(follow));
        }
        std::size_t size = 16;
        for (const auto& argument : arguments) {
            size += argument.size() + 16;
        }
        if (!reserve_pending(size)) {
            return false;
        }
        pending_.push_back({std::string(key), nullptr, arguments, std::move(follow), size});
        return true;
    }

    void subscribe(const std::string& channel) {
        auto& state = channels_[channel];
        if (++state.count == 1) {
            state.owner = slots_[key_slot(channel)];
            if (state.owner != nullptr) {
                state.owner->client->subscribe(channel);
            }
        }
    }

    void when_subscribed(const std::string& channel, std::function<void()> then) {
        const auto it = channels_.find(channel);
        if (it == channels_.end() || it->second.owner == nullptr) {
            return then();
        }
        it->second.owner->client->when_subscribed(channel, std::move(then));
    }

    void unsubscribe(const std::string& channel) {
        auto it = channels_.find(channel);
        if (it == channels_.end()) {
            return;
        }
        if (--it->second.count == 0) {
            if (it->second.owner != nullptr) {
                it->second.owner->client->unsubscribe(channel);
            }
            channels_.erase(it);
        }
    }

    [[nodiscard]] bool connected() const noexcept {
        if (stopped_ || owned_slots_ != cluster_slot_count) {
            return false;
        }
        for (const auto& [key, n] : nodes_) {
            if (n->slots > 0 && !n->connected) {
                return false;
            }
        }
        return true;
    }

    [[nodiscard]] client_statistics statistics() const noexcept {
        auto total = statistics_;
        for (const auto& [key, n] : nodes_) {
            add(total, n->client->statistics());
        }
        return total;
    }

    [[nodiscard]] std::size_t queued_bytes() const noexcept {
        auto total = pending_bytes_;
        for (const auto& [key, n] : nodes_) {
            total += n->client->queued_bytes();
        }
        return total;
    }

    [[nodiscard]] std::size_t master_count() const noexcept {
        std::size_t count = 0;
        for (const auto& [key, n] : nodes_) {
            count += n->slots > 0 ? 1 : 0;
        }
        return count;
    }

    // Stops every node client for good; no handler runs afterwards.
    void shut_down() {
        stop();
        nodes_.clear();
        retired_.clear();
        message_handler_ = nullptr;
        state_handler_ = nullptr;
    }

    message_handler message_handler_;
    state_handler state_handler_;
    std::uint64_t discoveries_ = 0;

private:
    struct channel_state {
        int count = 0;
        node* owner = nullptr;
    };
    // A publish (payload set) or a command (handler set) waiting for its slot's master.
    struct pending_send {
        std::string channel;  // or the command's key
        shared_buffer payload;
        std::vector<std::string> arguments;
        reply_handler handler;
        std::size_t size = 0;

        // A command the node's full queue refuses gets nullptr, as if its connection broke.
        void send_to(redis_client& client) {
            if (!handler) {
                client.publish(channel, std::move(payload));
            } else if (auto refused = handler; !client.command(arguments, std::move(handler))) {
                refused(nullptr);
            }
        }
    };

    // Redirections a node answers while the cluster reshards or fails over.
    static bool is_redirection(std::string_view error) {
        return error.starts_with("MOVED ") || error.starts_with("ASK ") ||
               error.starts_with("TRYAGAIN") || error.starts_with("CLUSTERDOWN");
    }

    bool reserve_pending(std::size_t size) {
        if (pending_bytes_ + size > options_.max_queued_bytes) {
            ++statistics_.dropped;
            statistics_.dropped_bytes += size;
            return false;
        }
        pending_bytes_ += size;
        return true;
    }

    static std::string key_of(const std::string& host, std::uint16_t port) {
        return host + ":" + std::to_string(port);
    }

    void add_seeds() {
        ensure_node(options_.connection.host, options_.connection.port);
        for (const auto& seed : options_.connection.more_endpoints) {
            ensure_node(seed.host, seed.port);
        }
    }

    node* ensure_node(const std::string& host, std::uint16_t port) {
        auto key = key_of(host, port);
        if (auto it = nodes_.find(key); it != nodes_.end()) {
            return it->second.get();
        }
        auto options = options_;
        options.connection.host = host;
        options.connection.port = port;
        options.connection.more_endpoints.clear();
        auto created = std::make_unique<node>();
        created->host = host;
        created->port = port;
        try {
            created->client = std::make_unique<redis_client>(context_, std::move(options));
        } catch (const std::exception& e) {
            // The probe in the constructor passed, so only a TLS file that vanished since
            // (or an empty host from Redis) lands here; the node stays unknown and its
            // slots unserved, which connected() reports.
            spdlog::error("redis cluster: cannot connect to {}:{}: {}", host, port, e.what());
            return nullptr;
        }
        auto* n = created.get();
        // Raw `this` and `n`: a node client runs no handler once stopped, and it is stopped
        // before this object or the node goes away.
        n->client->set_message_handler([this](std::string_view channel, shared_buffer payload) {
            if (message_handler_ && channels_.contains(channel)) {
                message_handler_(channel, std::move(payload));
            }
        });
        n->client->set_state_handler([this, n](bool up) { on_node_state(*n, up); });
        n->client->set_topology_handler([this, n](std::string_view reason) {
            spdlog::debug("redis cluster: {}:{}: {}; rediscovering", n->host, n->port, reason);
            request_discovery();
        });
        nodes_.emplace(std::move(key), std::move(created));
        if (!stopped_) {
            n->client->start();
        }
        return n;
    }

    void on_node_state(node& n, bool up) {
        n.connected = up;
        if (up) {
            // A node (re)connected: the topology may have changed while it was away.
            request_discovery();
        }
        update_state();
    }

    void request_discovery(std::chrono::milliseconds at_least = {}) {
        if (stopped_) {
            return;
        }
        if (discovering_ != nullptr) {
            discover_again_ = true;
            return;
        }
        if (timer_pending_) {
            return;
        }
        const auto next = std::max(last_discovery_ + min_discovery_interval,
                                   std::chrono::steady_clock::now() + at_least);
        if (std::chrono::steady_clock::now() < next) {
            timer_pending_ = true;
            timer_.expires_at(next);
            timer_.async_wait([self = shared_from_this()](error_code ec) {
                if (ec || self->stopped_) {
                    return;
                }
                self->timer_pending_ = false;
                self->request_discovery();
            });
            return;
        }
        discover();
    }

    void discover() {
        node* via = nullptr;
        for (auto& [key, n] : nodes_) {
            if (n->connected) {
                via = n.get();
                break;
            }
        }
        if (via == nullptr) {
            // Nothing reachable: bring the seeds back, so discovery does not hang on masters
            // that may be gone for good; the first to connect asks again.
            add_seeds();
            return;
        }
        last_discovery_ = std::chrono::steady_clock::now();
        discovering_ = via;
        const bool queued =
            via->client->command({"CLUSTER", "SLOTS"}, [this, via](const redisReply* reply) {
                if (discovering_ == via) {
                    on_cluster_slots(*via, reply);
                }
            });
        if (!queued) {
            discovering_ = nullptr;
        }
    }

    void on_cluster_slots(node& via, const redisReply* reply) {
        discovering_ = nullptr;
        // Nodes closed by the previous discovery: none of them can be on the stack now.
        retired_.clear();
        std::vector<slot_range> ranges;
        if (reply == nullptr) {
            // The connection broke first; another node (or this one, back) answers soon.
            return finish_discovery(true);
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            if (reply_string(reply).find("cluster support disabled") != std::string_view::npos) {
                // A single Redis: sharded pub/sub works there too, every slot is its own.
                ranges.push_back({0, cluster_slot_count - 1, via.host, via.port});
            } else {
                spdlog::warn("redis cluster: CLUSTER SLOTS on {}:{} failed: {}", via.host, via.port,
                             reply_string(reply));
                return finish_discovery(true);
            }
        } else if (!parse_cluster_slots(*reply, via.host, ranges)) {
            spdlog::warn("redis cluster: unexpected CLUSTER SLOTS reply from {}:{}", via.host,
                         via.port);
            return finish_discovery(true);
        }
        if (ranges.empty()) {
            // A cluster still forming: keep the nodes we have (and their connections) and
            // ask again, rather than closing them all and having nobody left to ask.
            return finish_discovery(true);
        }
        apply(ranges);
        ++discoveries_;
        if (owned_slots_ != cluster_slot_count) {
            spdlog::warn("redis cluster: {} of {} slots have no master",
                         cluster_slot_count - owned_slots_, cluster_slot_count);
        }
        finish_discovery(owned_slots_ != cluster_slot_count);
    }

    void apply(const std::vector<slot_range>& ranges) {
        slots_.fill(nullptr);
        for (auto& [key, n] : nodes_) {
            n->slots = 0;
        }
        owned_slots_ = 0;
        for (const auto& range : ranges) {
            auto* owner = ensure_node(range.host, range.port);
            if (owner == nullptr) {
                continue;
            }
            for (unsigned slot = range.first; slot <= range.last; ++slot) {
                if (slots_[slot] == nullptr) {
                    ++owned_slots_;
                }
                slots_[slot] = owner;
            }
        }
        for (auto* owner : slots_) {
            if (owner != nullptr) {
                ++owner->slots;
            }
        }
        // Channels follow their slot; the old owner may answer the SUNSUBSCRIBE with -MOVED,
        // which is harmless.
        for (auto& [channel, state] : channels_) {
            auto* owner = slots_[key_slot(channel)];
            if (owner != state.owner) {
                if (state.owner != nullptr) {
                    state.owner->client->unsubscribe(channel);
                }
                if (owner != nullptr) {
                    owner->client->subscribe(channel);
                }
                state.owner = owner;
            }
        }
        // Publishes and commands that waited for their slot's master, in order.
        std::deque<pending_send> waiting;
        waiting.swap(pending_);
        pending_bytes_ = 0;
        for (auto& entry : waiting) {
            if (auto* owner = slots_[key_slot(entry.channel)]) {
                entry.send_to(*owner->client);
            } else {
                pending_bytes_ += entry.size;
                pending_.push_back(std::move(entry));
            }
        }
        // Nodes owning nothing (seeds that are replicas or other names, former masters) are
        // closed; their statistics stay in the sum.
        for (auto it = nodes_.begin(); it != nodes_.end();) {
            if (it->second->slots == 0) {
                it->second->client->stop();
                add(statistics_, it->second->client->statistics());
                retired_.push_back(std::move(it->second));
                it = nodes_.erase(it);
            } else {
                ++it;
            }
        }
    }

    // incomplete: the discovery failed or left slots without a master; asked again later.
    void finish_discovery(bool incomplete) {
        update_state();
        if (discover_again_) {
            discover_again_ = false;
            request_discovery();
        } else if (incomplete) {
            request_discovery(incomplete_retry_interval);
        }
    }

    void update_state() {
        const bool now = connected();
        if (now != reported_connected_) {
            reported_connected_ = now;
            if (state_handler_) {
                state_handler_(now);
            }
        }
    }

    asio::io_context& context_;
    client_options options_;
    std::map<std::string, std::unique_ptr<node>, std::less<>> nodes_;  // by "host:port"
    std::vector<std::unique_ptr<node>> retired_;  // stopped, destroyed at the next discovery
    std::array<node*, cluster_slot_count> slots_{};
    std::size_t owned_slots_ = 0;
    std::map<std::string, channel_state, std::less<>> channels_;
    std::deque<pending_send> pending_;
    std::size_t pending_bytes_ = 0;
    client_statistics statistics_;  // this object's drops plus closed nodes' totals
    asio::steady_timer timer_;
    bool timer_pending_ = false;
    node* discovering_ = nullptr;  // the node asked CLUSTER SLOTS, while it has not answered
    bool discover_again_ = false;
    std::chrono::steady_clock::time_point last_discovery_{};
    bool stopped_ = true;
    bool reported_connected_ = false;
};

cluster_client::cluster_client(asio::io_context& context, client_options options)
    : impl_(std::make_shared<impl>(context, std::move(options))) {}

cluster_client::~cluster_client() {
    impl_->shut_down();
}

void cluster_client::set_message_handler(message_handler handler) {
    impl_->message_handler_ = std::move(handler);
}
void cluster_client::set_state_handler(state_handler handler) {
    impl_->state_handler_ = std::move(handler);
}
void cluster_client::start() {
    impl_->start();
}
void cluster_client::stop() {
    impl_->stop();
}
bool cluster_client::publish(std::string_view channel, shared_buffer payload) {
    return impl_->publish(channel, std::move(payload));
}
void cluster_client::subscribe(const std::string& channel) {
    impl_->subscribe(channel);
}
void cluster_client::unsubscribe(const std::string& channel) {
    impl_->unsubscribe(channel);
}
bool cluster_client::command(std::string_view key, const std::vector<std::string>& arguments,
                             reply_handler handler) {
    return impl_->command(key, arguments, std::move(handler));
}

void cluster_client::when_subscribed(const std::string& channel, std::function<void()> then) {
    impl_->when_subscribed(channel, std::move(then));
}
bool cluster_client::connected() const noexcept {
    return impl_->connected();
}
client_statistics cluster_client::statistics() const noexcept {
    return impl_->statistics();
}
std::size_t cluster_client::queued_bytes() const noexcept {
    return impl_->queued_bytes();
}
std::size_t cluster_client::master_count() const noexcept {
    return impl_->master_count();
}
std::uint64_t cluster_client::discoveries() const noexcept {
    return impl_->discoveries_;
}

}  // namespace switchboard::routing::redis
