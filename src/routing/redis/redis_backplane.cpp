#include "routing/redis/redis_backplane.hpp"

#include "routing/redis/client_factory.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>

#include <algorithm>
#include <utility>

namespace switchboard::routing::redis {

redis_backplane::redis_backplane(boost::asio::io_context& context, backplane_options options)
    : redis_backplane(context, make_pubsub_client(context, std::move(options.client)),
                      options.echo_window) {}

redis_backplane::redis_backplane(boost::asio::io_context& context,
                                 std::unique_ptr<pubsub_client> client,
                                 std::chrono::milliseconds echo_window)
    : context_(context), client_(std::move(client)), echo_window_(echo_window) {
    client_->set_message_handler(
        [this](std::string_view channel, shared_buffer payload) { on_message(channel, payload); });
    client_->set_state_handler([this](bool up) { on_state(up); });
}

redis_backplane::~redis_backplane() {
    stop();
}

template <class F>
void redis_backplane::run(F f) {
    // Inline on the control shard (the router's own calls), posted from the others.
    boost::asio::dispatch(context_, std::move(f));
}

void redis_backplane::start(backplane_handler& handler) {
    run([this, h = &handler] {
        handler_ = h;
        client_->start();
    });
}

void redis_backplane::stop() {
    // Called on the control shard, or after the shard threads stopped.
    handler_ = nullptr;
    client_->stop();
    connected_ = false;
    channels_.clear();
}

void redis_backplane::subscribe(const std::string& channel) {
    run([this, channel] {
        if (++channels_[channel].subscriptions == 1) {
            client_->subscribe(channel);
        }
    });
}

void redis_backplane::unsubscribe(const std::string& channel) {
    run([this, channel] {
        const auto it = channels_.find(channel);
        if (it == channels_.end()) {
            return;
        }
        if (--it->second.subscriptions == 0) {
            // Echoes still on their way arrive before the UNSUBSCRIBE is confirmed and would
            // find no entry: they are delivered to nobody, since no local recipient is left.
            channels_.erase(it);
            client_->unsubscribe(channel);
        }
    });
}

void redis_backplane::publish(const std::string& channel, shared_buffer payload) {
    // The router's own broadcasts come from the control shard: they go out at once, without
    // the handler (and its copy of the channel name) that the other shards post.
    if (context_.get_executor().running_in_this_thread()) {
        return publish_here(channel, std::move(payload));
    }
    run([this, channel, payload = std::move(payload)]() mutable {
        publish_here(channel, std::move(payload));
    });
}

void redis_backplane::publish_here(const std::string& channel, shared_buffer payload) {
    const auto it = channels_.find(channel);
    if (!client_->publish(channel, payload)) {
        return count_drop();
    }
    ++accepted_;
    if (it == channels_.end()) {
        return;  // not subscribed here: Redis sends no echo
    }
    it->second.echoes.remember(std::move(payload), clock::now(), echo_window_, connected_);
}

std::uint64_t redis_backplane::unconfirmed_publications() const {
    // Every PUBLISH is answered, with a receiver count or an error, in order.
    const auto stats = client_->statistics();
    const auto answered = stats.acknowledged + stats.error_replies;
    return accepted_ - std::min(accepted_, answered);
}

std::uint64_t redis_backplane::refused_publications() const {
    return client_->statistics().error_replies;
}

void redis_backplane::when_subscribed(const std::string& channel, std::function<void()> then) {
    run([this, channel, then = std::move(then)]() mutable {
        client_->when_subscribed(channel, std::move(then));
    });
}

void redis_backplane::on_message(std::string_view channel, const shared_buffer& payload) {
    const auto it = channels_.find(channel);
    if (it != channels_.end() && !it->second.echoes.empty() &&
        it->second.echoes.take(*payload, clock::now())) {
        ++echoes_filtered_;
        return;
    }
    if (handler_ != nullptr) {
        handler_->on_backplane_message(channel, payload);
    }
}

void redis_backplane::on_state(bool up) {
    if (up != connected_) {
        if (up) {
            if (std::exchange(was_up_, true)) {
                reconnects_.fetch_add(1, std::memory_order_relaxed);
            }
            spdlog::info("backplane: connected to Redis");
        } else {
            spdlog::warn(
                "backplane: lost Redis; publishing into a bounded buffer until it is back");
        }
    }
    connected_ = up;
    if (up) {
        // The buffered publications go out now: their echoes are due from here on.
        const auto expires = clock::now() + echo_window_;
        for (auto& [name, state] : channels_) {
            state.echoes.bus_up(expires);
        }
    }
}

void redis_backplane::count_drop() {
    ++drops_since_log_;
    dropped_total_.fetch_add(1, std::memory_order_relaxed);
    const auto now = clock::now();
    // One line per second at most: a long outage must not flood the log.
    if (now - last_drop_log_ >= std::chrono::seconds(1)) {
        spdlog::warn("backplane: Redis buffer full, dropped {} publication(s) (total {})",
                     drops_since_log_, client_->statistics().dropped);
        drops_since_log_ = 0;
        last_drop_log_ = now;
    }
}

backplane_statistics redis_backplane::statistics() const {
    return {client_->statistics(), echoes_filtered_};
}

}  // namespace switchboard::routing::redis
