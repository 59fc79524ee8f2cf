#include "routing/publisher.hpp"

#include "core/random.hpp"
#include "routing/scaleout/channels.hpp"
#include "routing/scaleout/messages.hpp"
#include "routing/serialized_message.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <future>

namespace switchboard::routing {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// How often a wait for the bus (connected, confirmed) looks again: a bus answers within
// milliseconds on a healthy network, so 2 ms adds little to a worker's latency and costs
// nothing measurable while idle.
constexpr auto poll_interval = 2ms;

const char* kind_word(recipients::kind kind) {
    switch (kind) {
    case recipients::kind::all:
        return "all";
    case recipients::kind::users:
        return "user";
    case recipients::kind::groups:
        return "group";
    case recipients::kind::connections:
        return "connection";
    }
    return "?";
}

std::string default_server_name() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) {
        host[0] = '\0';
    }
    return std::string(host.data()) + "_" + make_random_id();
}

// Calls `done` once `ready()` holds, or with `failure()` once `deadline` passed; polls on a
// timer so nothing blocks the context.
void poll_until(asio::io_context& context, std::weak_ptr<bool> alive,
                std::chrono::steady_clock::time_point deadline, std::function<bool()> ready,
                std::function<error()> failure, completion_handler done) {
    if (alive.expired()) {
        return done(make_error("the publisher stopped"));
    }
    if (ready()) {
        return done({});
    }
    if (std::chrono::steady_clock::now() >= deadline) {
        return done(failure());
    }
    auto timer = std::make_shared<asio::steady_timer>(context, poll_interval);
    timer->async_wait([&context, timer, alive = std::move(alive), deadline,
                       ready = std::move(ready), failure = std::move(failure),
                       done = std::move(done)](const boost::system::error_code&) mutable {
        poll_until(context, std::move(alive), deadline, std::move(ready), std::move(failure),
                   std::move(done));
    });
}

std::string milliseconds(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

}  // namespace

expected<void> check_publication(const publication& p) {
    if (p.target.empty()) {
        return make_error("no target (the client method to invoke)");
    }
    const auto* word = kind_word(p.to.type);
    if (p.to.type == recipients::kind::all) {
        if (!p.to.names.empty()) {
            return make_error("all takes no names");
        }
    } else if (p.to.names.empty()) {
        return make_error(std::string("no ") + word + " named");
    }
    for (const auto& name : p.to.names) {
        if (name.empty()) {
            return make_error(std::string("an empty ") + word + " name");
        }
    }
    if (!p.to.excluded.empty() && p.to.type != recipients::kind::all &&
        p.to.type != recipients::kind::groups) {
        return make_error("exclusions apply to all and groups only (as in ASP.NET)");
    }
    for (const auto& id : p.to.excluded) {
        if (id.empty()) {
            return make_error("an empty excluded connection id");
        }
    }
    return {};
}

encoded_publication encode_publication(const publication& p, const std::string& channel_prefix,
                                       const std::string& default_hub) {
    const scaleout::channels names(channel_prefix, p.hub.empty() ? default_hub : p.hub);
    const serialized_message message(p.target, p.arguments);
    encoded_publication out;
    out.payload = scaleout::encode_invocation(message, p.to.excluded);
    if (p.to.type == recipients::kind::all) {
        out.channels.push_back(names.all());
        return out;
    }
    out.channels.reserve(p.to.names.size());
    for (const auto& name : p.to.names) {
        switch (p.to.type) {
        case recipients::kind::users:
            out.channels.push_back(names.user(name));
            break;
        case recipients::kind::groups:
            out.channels.push_back(names.group(name));
            break;
        case recipients::kind::connections:
            out.channels.push_back(names.connection(name));
            break;
        case recipients::kind::all:
            break;
        }
    }
    return out;
}

struct publisher::pending_ack {
    explicit pending_ack(asio::io_context& context) : timer(context) {}
    asio::steady_timer timer;
    completion_handler done;
};

publisher::publisher(asio::io_context& control, made_backplane bus, publisher_options options)
    : control_(control),
      bus_(std::move(bus.bus)),
      prefix_(options.channel_prefix.value_or(bus.channel_prefix)),
      options_(std::move(options)) {
    if (options_.server_name.empty()) {
        options_.server_name = default_server_name();
    }
}

publisher::~publisher() {
    stop();
}

void publisher::start(std::chrono::milliseconds timeout, completion_handler done) {
    if (!started_) {
        started_ = true;
        bus_->start(*this);
        dropped_at_start_ = bus_->dropped_publications();
        refused_at_start_ = bus_->refused_publications();
    }
    poll_until(
        control_, alive_, std::chrono::steady_clock::now() + timeout,
        [this] { return bus_->connected(); },
        [timeout] {
            return make_error("the backplane is unreachable (no connection within " +
                              milliseconds(timeout) + ")");
        },
        std::move(done));
}

expected<void> publisher::publish(const publication& p) {
    if (auto ok = check_publication(p); !ok) {
        return ok;
    }
    publish(encode_publication(p, prefix_, options_.hub));
    return {};
}

void publisher::publish(encoded_publication encoded) {
    // One buffer for every channel (DESIGN.md decision 2).
    const auto payload = make_shared_buffer(std::move(encoded.payload));
    for (const auto& channel : encoded.channels) {
        bus_->publish(channel, payload);
    }
}

void publisher::flush(std::chrono::milliseconds timeout, completion_handler done) {
    const auto check = [this]() -> expected<void> {
        if (const auto n = bus_->dropped_publications() - dropped_at_start_; n > 0) {
            return make_error(std::to_string(n) +
                              " publication(s) dropped: the backplane's buffer was full");
        }
        if (const auto n = bus_->refused_publications() - refused_at_start_; n > 0) {
            return make_error(std::to_string(n) + " publication(s) refused by the backplane");
        }
        return {};
    };
    poll_until(
        control_, alive_, std::chrono::steady_clock::now() + timeout,
        [this, check] { return !check() || bus_->unconfirmed_publications() == 0; },
        [this, timeout] {
            return make_error(std::to_string(bus_->unconfirmed_publications()) +
                              " publication(s) not confirmed by the backplane within " +
                              milliseconds(timeout) + " (unreachable, or lost with a connection)");
        },
        [this, check, deadline = std::chrono::steady_clock::now() + timeout, timeout,
         done = std::move(done)](expected<void> result) mutable {
            if (!result) {
                return done(std::move(result));
            }
            if (auto ok = check(); !ok) {
                return done(std::move(ok));
            }
            barrier(deadline, timeout, std::move(done));
        });
}

void publisher::barrier(std::chrono::steady_clock::time_point deadline,
                        std::chrono::milliseconds timeout, completion_handler done) {
    // Behind the publications: a bus that confirms nothing one by one (NATS) answers it once
    // everything written before it reached its server. A bus that is down answers at once,
    // hence the connected() check; one that never answers is bounded by the flush's deadline.
    struct state {
        explicit state(asio::io_context& context) : timer(context) {}
        asio::steady_timer timer;
        completion_handler done;
    };
    auto shared = std::make_shared<state>(control_);
    shared->done = std::move(done);
    const auto finish = [shared](expected<void> result) {
        if (auto handler = std::exchange(shared->done, nullptr)) {
            shared->timer.cancel();
            handler(std::move(result));
        }
    };
    shared->timer.expires_at(deadline);
    shared->timer.async_wait([finish, timeout](const boost::system::error_code& ec) {
        if (!ec) {
            finish(make_error("the backplane did not confirm the publications within " +
                              milliseconds(timeout)));
        }
    });
    bus_->when_subscribed(scaleout::channels(prefix_, options_.hub).all(),
                          [this, alive = std::weak_ptr<bool>(alive_), finish]() mutable {
                              asio::post(control_, [this, alive = std::move(alive), finish] {
                                  if (alive.expired()) {
                                      return finish(make_error("the publisher stopped"));
                                  }
                                  if (!bus_->connected()) {
                                      return finish(
                                          make_error("the backplane connection was lost before it "
                                                     "confirmed the publications"));
                                  }
                                  finish({});
                              });
                          });
}

void publisher::add_to_group(std::string hub, std::string connection_id, std::string group,
                             completion_handler done) {
    group_change(true, std::move(hub), std::move(connection_id), std::move(group), std::move(done));
}

void publisher::remove_from_group(std::string hub, std::string connection_id, std::string group,
                                  completion_handler done) {
    group_change(false, std::move(hub), std::move(connection_id), std::move(group),
                 std::move(done));
}

void publisher::group_change(bool add, std::string hub, std::string connection_id,
                             std::string group, completion_handler done) {
    if (hub.empty()) {
        hub = options_.hub;
    }
    if (connection_id.empty() || group.empty()) {
        return done(make_error("a group change needs a connection id and a group name"));
    }
    if (stopped_ || !started_) {
        return done(make_error("the publisher is not started"));
    }
    // Wrapped around at INT32_MAX: ids need only be unique among the pending ones.
    next_ack_id_ = next_ack_id_ == INT32_MAX ? 1 : next_ack_id_ + 1;
    const auto id = next_ack_id_;
    auto pending = std::make_shared<pending_ack>(control_);
    pending->done = std::move(done);
    acks_.emplace(id, pending);
    pending->timer.expires_after(options_.group_ack_timeout);
    pending->timer.async_wait(
        [this, id, alive = std::weak_ptr<bool>(alive_),
         timeout = options_.group_ack_timeout](const boost::system::error_code& ec) {
            if (ec || alive.expired()) {
                return;
            }
            finish_ack(id, make_error("no instance acknowledged the group change within " +
                                      milliseconds(timeout) + " (no such connection?)"));
        });

    scaleout::group_command command;
    command.id = id;
    command.server_name = options_.server_name;
    command.action = add ? scaleout::group_action::add : scaleout::group_action::remove;
    command.group_name = std::move(group);
    command.connection_id = std::move(connection_id);
    const scaleout::channels names(prefix_, hub);
    auto send = [this, channel = names.internal_groups(),
                 payload = make_shared_buffer(scaleout::encode_group_command(command))] {
        bus_->publish(channel, payload);
    };
    // The ack channel must be subscribed before the command goes out, or a quick ack is lost.
    auto ack = names.internal_ack(options_.server_name);
    if (std::find(ack_channels_.begin(), ack_channels_.end(), ack) == ack_channels_.end()) {
        bus_->subscribe(ack);
        ack_channels_.push_back(ack);
    }
    bus_->when_subscribed(
        ack, [this, alive = std::weak_ptr<bool>(alive_), send = std::move(send)]() mutable {
            asio::post(control_, [alive = std::move(alive), send = std::move(send)] {
                if (!alive.expired()) {
                    send();
                }
            });
        });
}

void publisher::finish_ack(std::int32_t id, expected<void> result) {
    const auto it = acks_.find(id);
    if (it == acks_.end()) {
        return;
    }
    auto pending = std::move(it->second);
    acks_.erase(it);
    pending->timer.cancel();
    pending->done(std::move(result));
}

void publisher::on_backplane_message(std::string_view channel, const shared_buffer& payload) {
    // Only ack channels are subscribed; anything else on them is not ours to act on.
    if (std::find(ack_channels_.begin(), ack_channels_.end(), channel) == ack_channels_.end()) {
        return;
    }
    const auto id = scaleout::decode_ack(*payload);
    if (id) {
        finish_ack(*id, {});
    }
}

void publisher::stop() {
    if (stopped_) {
        return;
    }
    stopped_ = true;
    alive_.reset();
    auto acks = std::move(acks_);
    acks_.clear();
    for (auto& [id, pending] : acks) {
        pending->timer.cancel();
        pending->done(make_error("the publisher stopped"));
    }
    if (started_) {
        bus_->stop();
    }
}

blocking_publisher::blocking_publisher(const bus_maker& make, publisher_options options)
    : options_(options), work_(asio::make_work_guard(context_)) {
    publisher_ = std::make_unique<publisher>(context_, make(context_), std::move(options));
    options_.server_name = publisher_->server_name();
    prefix_ = publisher_->channel_prefix();
    thread_ = std::thread([this] { context_.run(); });
}

blocking_publisher::~blocking_publisher() {
    std::promise<void> stopped;
    asio::post(context_, [this, &stopped] {
        publisher_->stop();
        stopped.set_value();
    });
    stopped.get_future().wait();
    work_.reset();
    context_.stop();
    thread_.join();
}

expected<void> blocking_publisher::wait(
    const std::function<void(publisher&, completion_handler)>& start) {
    // A promise, not a lock held across I/O: the caller waits, the context never does.
    auto result = std::make_shared<std::promise<expected<void>>>();
    auto future = result->get_future();
    asio::post(context_, [this, &start, result] {
        start(*publisher_, [result](expected<void> r) { result->set_value(std::move(r)); });
    });
    return future.get();
}

expected<void> blocking_publisher::connect(std::chrono::milliseconds timeout) {
    return wait(
        [timeout](publisher& p, completion_handler done) { p.start(timeout, std::move(done)); });
}

expected<void> blocking_publisher::publish(const publication& pub) {
    // A thousand small publications are a few hundred kilobytes of handlers at most; waiting
    // once per thousand costs one round trip where each would cost one.
    constexpr std::size_t max_unsynced = 1024;
    if (auto ok = check_publication(pub); !ok) {
        return ok;
    }
    asio::post(context_,
               [this, encoded = encode_publication(pub, prefix_, options_.hub)]() mutable {
                   publisher_->publish(std::move(encoded));
               });
    if (unsynced_.fetch_add(1, std::memory_order_relaxed) + 1 >= max_unsynced) {
        unsynced_.store(0, std::memory_order_relaxed);
        return wait([](publisher&, completion_handler done) { done({}); });
    }
    return {};
}

expected<void> blocking_publisher::flush(std::chrono::milliseconds timeout) {
    return wait(
        [timeout](publisher& p, completion_handler done) { p.flush(timeout, std::move(done)); });
}

expected<void> blocking_publisher::add_to_group(const std::string& hub,
                                                const std::string& connection_id,
                                                const std::string& group) {
    return wait([&](publisher& p, completion_handler done) {
        p.add_to_group(hub, connection_id, group, std::move(done));
    });
}

expected<void> blocking_publisher::remove_from_group(const std::string& hub,
                                                     const std::string& connection_id,
                                                     const std::string& group) {
    return wait([&](publisher& p, completion_handler done) {
        p.remove_from_group(hub, connection_id, group, std::move(done));
    });
}

std::string blocking_publisher::channel_prefix() const {
    return prefix_;
}

}  // namespace switchboard::routing
