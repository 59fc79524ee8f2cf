#include "events/registry.hpp"

#include "core/random.hpp"
#include "events/event_format.hpp"
#include "events/statelesse.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <unordered_set>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>

namespace switchboard::events {

namespace {

constexpr std::string_view events_infix = "switchboard:events:";
// Where the bus delivers (routing::router::control_shard; not included: events/ does not
// depend on the router).
constexpr std::size_t control_shard = 0;

}  // namespace

registry::registry(shard_pool& shards, routing::backplane& bus, std::string channel_prefix,
                   events_options options, switchboard::metrics* counters,
                   history_store* shared_history)
    : pool_(shards),
      bus_(bus),
      bus_prefix_(std::move(channel_prefix)),
      options_(std::move(options)),
      retain_(options_.retain),
      counters_(counters),
      store_(shared_history),
      origin_(make_random_id()),
      shards_(shards.size()),
      appends_(shards.size()),
      homes_(shards.size()),
      overflow_clocks_(shards.size()) {
    channel_prefix_ = bus_prefix_;
    all_channel_ = bus_prefix_ + "switchboard:events-all";
    bus_prefix_ += events_infix;
    if (!options_.statelesse_prefix.empty()) {
        statelesse_channel_ = options_.statelesse_prefix;
        statelesse_channel_ += ":events";
        statelesse_head_ = statelesse_origin_head(channel_prefix_);
    }
}

void registry::start() {
    if (!statelesse_channel_.empty()) {
        bus_.subscribe(statelesse_channel_);
    }
}

void registry::count_active_channel(bool added) {
    if (!bus_.shared()) {
        return;
    }
    run_on(control_shard, [this, added] {
        if (added ? active_channels_++ == 0 : --active_channels_ == 0) {
            if (added) {
                bus_.subscribe(all_channel_);
            } else {
                bus_.unsubscribe(all_channel_);
            }
        }
    });
}

void registry::close_all(std::function<void()> done) {
    auto remaining = std::make_shared<std::atomic<std::size_t>>(shards_.size());
    auto finished = std::make_shared<std::function<void()>>(std::move(done));
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        boost::asio::post(pool_.context(shard), [this, shard, remaining, finished] {
            // Collected first: each close() unsubscribes, which edits the map being walked.
            std::unordered_set<subscriber*> targets;
            for (const auto& [channel, subscriptions] : shards_[shard].subscriptions) {
                for (const auto& entry : subscriptions) {
                    targets.insert(entry.target);
                }
            }
            for (auto* target : targets) {
                target->close();
            }
            if (remaining->fetch_sub(1) == 1 && *finished) {
                (*finished)();
            }
        });
    }
}

std::size_t registry::home_shard(std::string_view channel) const noexcept {
    return std::hash<std::string_view>{}(channel) % homes_.size();
}

template <class F>
void registry::run_on(std::size_t shard, F f) {
    if (pool_.current_shard() == shard) {
        f();
    } else {
        boost::asio::post(pool_.context(shard), std::move(f));
    }
}

registry::channel_state& registry::state_of(std::size_t home, const std::string& channel) {
    auto& channels = homes_[home];
    auto it = channels.find(channel);
    if (it == channels.end()) {
        // Nothing before now is known here: a resume from an older id gets a reset. With other
        // instances, not even this millisecond: they may have assigned ids in it already.
        const auto now = unix_ms_now();
        it = channels
                 .try_emplace(channel, options_, shards_.size(), before_ms(now),
                              bus_.shared() ? through_ms(now) : before_ms(now))
                 .first;
    }
    return it->second;
}

void registry::subscribe(subscriber& target, const std::vector<std::string>& channels,
                         std::optional<event_id> resume_from) {
    const std::size_t shard = pool_.current_shard();
    auto& local = shards_[shard];
    for (const auto& channel : channels) {
        const auto serial = ++local.next_serial;
        // Listed first, so live events posted after the home shard's answer reach it.
        local.subscriptions[channel].push_back(subscription{&target, serial, true, {}});
        const auto home = home_shard(channel);
        run_on(home, [this, home, shard, serial, channel, resume_from] {
            attach(home, shard, serial, channel, resume_from);
        });
    }
}

void registry::attach(std::size_t home, std::size_t shard, std::uint64_t serial,
                      std::string channel, std::optional<event_id> resume_from) {
    auto& state = state_of(home, channel);
    ++state.per_shard[shard];
    if (state.subscribers++ == 0 && bus_.shared() && !state.on_bus) {
        state.on_bus = true;
        // Events published elsewhere while nobody here listened are not in this history.
        const auto now = unix_ms_now();
        state.events.raise_floor(through_ms(now));
        state.clock.observe(before_ms(now));
        bus_.subscribe(bus_prefix_ + channel);
        // Until the bus confirms, events from elsewhere may pass by unseen: the history vouches
        // only from then on (a resume from an id in between gets a reset rather than a gap).
        bus_.when_subscribed(bus_prefix_ + channel, [this, home, channel] {
            boost::asio::post(pool_.context(home), [this, home, channel] {
                const auto it = homes_[home].find(channel);
                if (it != homes_[home].end()) {
                    it->second.events.raise_floor(through_ms(unix_ms_now()));
                }
            });
        });
        count_active_channel(true);
    }
    answer reply;
    const auto now_ms = unix_ms_now();
    if (resume_from) {
        auto slice = state.events.after(*resume_from, now_ms);
        if (slice.complete) {
            reply.resumed = true;
            for (auto& event : slice.events) {
                reply.events.push_back(std::move(event.sse));
            }
        } else if (store_ != nullptr && bus_.shared() && store_->available()) {
            return resume_from_store(home, shard, serial, channel, *resume_from);
        } else {
            reply.reset = true;
            reply.events.push_back(make_shared_buffer(format_reset_event(channel)));
        }
    } else if (state.retained) {
        reply.events.push_back(state.retained);
    }
    // Everything up to the channel's last id is covered by this answer, or predates the
    // subscription.
    reply.watermark = std::max(state.clock.last(), resume_from.value_or(event_id{}));
    boost::asio::post(pool_.context(shard), [this, shard, serial, channel = std::move(channel),
                                             reply = std::move(reply)]() mutable {
        complete(shard, serial, channel, std::move(reply));
    });
}

void registry::complete(std::size_t shard, std::uint64_t serial, const std::string& channel,
                        answer reply) {
    auto& local = shards_[shard];
    const auto it = local.subscriptions.find(channel);
    if (it == local.subscriptions.end()) {
        return;  // unsubscribed meanwhile
    }
    for (auto& entry : it->second) {
        if (entry.serial != serial) {
            continue;
        }
        entry.pending = false;
        entry.watermark = reply.watermark;
        // `entry` may go while delivering (a subscriber dropped as too slow unsubscribes); the
        // subscriber itself outlives this call (its pending read holds it).
        subscriber* target = entry.target;
        if (counters_ != nullptr) {
            if (reply.resumed) {
                counters_->events_resumed.add();
            }
            if (reply.reset) {
                counters_->events_reset.add();
            }
            counters_->events_delivered.add(reply.events.size() - (reply.reset ? 1 : 0));
        }
        for (const auto& event : reply.events) {
            target->deliver(event);
        }
        return;
    }
}

void registry::unsubscribe(subscriber& target, const std::vector<std::string>& channels) {
    const std::size_t shard = pool_.current_shard();
    auto& local = shards_[shard];
    for (const auto& channel : channels) {
        const auto it = local.subscriptions.find(channel);
        if (it == local.subscriptions.end()) {
            continue;
        }
        auto& list = it->second;
        const auto removed = std::find_if(
            list.begin(), list.end(), [&](const subscription& s) { return s.target == &target; });
        if (removed == list.end()) {
            continue;
        }
        list.erase(removed);
        if (list.empty()) {
            local.subscriptions.erase(it);
        }
        const auto home = home_shard(channel);
        run_on(home, [this, home, shard, channel] { detach(home, shard, channel); });
    }
}

void registry::detach(std::size_t home, std::size_t shard, const std::string& channel) {
    auto& channels = homes_[home];
    const auto it = channels.find(channel);
    if (it == channels.end()) {
        return;
    }
    auto& state = it->second;
    --state.per_shard[shard];
    if (--state.subscribers == 0) {
        if (state.on_bus && options_.linger.count() > 0) {
            state.linger_until = std::chrono::steady_clock::now() + options_.linger;
            return;  // sweep() leaves the bus once the linger is over
        }
        leave_bus(channel, state);
        if (state.events.empty() && !state.retained) {
            channels.erase(it);
        }
    }
}

void registry::leave_bus(const std::string& channel, channel_state& state) {
    if (!state.on_bus) {
        return;
    }
    state.on_bus = false;
    bus_.unsubscribe(bus_prefix_ + channel);
    count_active_channel(false);
}

expected<void> registry::publish(std::string_view channel, std::string_view type,
                                 const boost::json::value& data, published_callback done) {
    if (!valid_channel(channel)) {
        return make_error("invalid channel name");
    }
    if (!valid_type(type)) {
        return make_error("invalid event type");
    }
    publish(std::string(channel), std::string(type), boost::json::serialize(data), std::move(done));
    return {};
}

void registry::publish(std::string channel, std::string type, std::string data_json,
                       published_callback done) {
    publish_here(std::move(channel), std::move(type), std::move(data_json), true, true,
                 std::move(done));
}

void registry::publish_here(std::string channel, std::string type, std::string data_json,
                            bool to_bus, bool envelope, published_callback done) {
    const auto home = home_shard(channel);
    run_on(home, [this, home, to_bus, envelope, channel = std::move(channel),
                  type = std::move(type), data_json = std::move(data_json),
                  done = std::move(done)]() mutable {
        if (store_ == nullptr || !to_bus || !bus_.shared()) {
            return publish_with_id(home, std::move(channel), std::move(type), std::move(data_json),
                                   to_bus ? bus_step::publish : bus_step::none, envelope,
                                   std::nullopt, std::move(done));
        }
        auto& queue = appends_[home];
        const auto serial = queue.front_serial + queue.entries.size();
        bus_copy copy;
        if (store_->publishes()) {
            copy.channel = bus_prefix_ + channel;
            copy.frame = frame_bus_event(channel, type, origin_);
        }
        store_->append(
            channel, type, data_json, std::move(copy), executor(home),
            [this, home, serial](std::optional<event_id> id) { on_appended(home, serial, id); });
        queue.entries.push_back(pending_append{std::move(channel), std::move(type),
                                               std::move(data_json), envelope, std::move(done),
                                               false, std::nullopt});
    });
}

void registry::on_appended(std::size_t home, std::uint64_t serial, std::optional<event_id> id) {
    auto& queue = appends_[home];
    auto& entry = queue.entries[serial - queue.front_serial];
    entry.answered = true;
    entry.id = id;
    while (!queue.entries.empty() && queue.entries.front().answered) {
        auto next = std::move(queue.entries.front());
        queue.entries.pop_front();
        ++queue.front_serial;
        const auto bus = next.id && store_->publishes() ? bus_step::published : bus_step::publish;
        publish_with_id(home, std::move(next.channel), std::move(next.type),
                        std::move(next.data_json), bus, next.envelope, next.id,
                        std::move(next.done));
    }
}

void registry::publish_with_id(std::size_t home, std::string channel, std::string type,
                               std::string data_json, bus_step bus, bool envelope,
                               std::optional<event_id> assigned, published_callback done) {
    auto& channels = homes_[home];
    const bool keep = channels.contains(channel) || channels.size() < idle_channels_per_home();
    // Beyond the bound, a channel with no subscriber here (a subscribed channel always has
    // its state) keeps no history: the event goes to the bus only, with the shard's clock.
    auto* state = keep ? &state_of(home, channel) : nullptr;
    auto& clock = state != nullptr ? state->clock : overflow_clocks_[home];
    event_id id;
    if (assigned) {
        id = *assigned;
        clock.observe(id);  // a later id of this clock (the store refused) sorts after it
    } else {
        id = next_local_id(clock);
    }
    if (bus_.shared() && bus != bus_step::none) {
        if (state != nullptr && state->subscribers == 0) {
            // Not listening to the bus: events from other instances are missing here, so
            // this history cannot vouch for anything before this id.
            state->events.raise_floor(id.seq > 0 ? event_id{id.ms, id.seq - 1}
                                                 : event_id{id.ms - 1, UINT64_MAX});
        }
        if (bus == bus_step::publish) {
            bus_.publish(bus_prefix_ + channel, make_shared_buffer(encode_bus_event(
                                                    channel, type, data_json, id, origin_)));
        }
        if (envelope) {
            publish_envelope(channel, type, data_json, format_event_id(id));
        }
    }
    if (state != nullptr) {
        distribute(home, channel, *state, id,
                   make_shared_buffer(format_sse_event(id, type, channel, data_json)));
    }
    if (counters_ != nullptr) {
        counters_->events_published.add();
    }
    if (done) {
        done(id);
    }
}

event_id registry::next_local_id(id_clock& clock) {
    const bool shared_ids = store_ != nullptr && bus_.shared();
    return shared_ids ? clock.next_reserved(unix_ms_now()) : clock.next(unix_ms_now());
}

void registry::resume_from_store(std::size_t home, std::size_t shard, std::uint64_t serial,
                                 const std::string& channel, event_id after) {
    // After an id of this instance's making (an event not in the stream), read the stream from
    // the start of its millisecond: events of that millisecond may follow it in the stream's
    // order. Some may come twice; none is missed.
    if (after.seq >= id_clock::reserved_base) {
        after = before_ms(after.ms);
    }
    auto& state = homes_[home].at(channel);  // attach() made it
    if (!state.recorder) {
        state.recorder = std::make_shared<read_recorder>();
    }
    ++state.recorder->readers;
    bus_.when_subscribed(bus_prefix_ + channel, [this, home, shard, serial, channel, after,
                                                 recorder = state.recorder] {
        store_->read_after(
            channel, after, options_.history, executor(home),
            [this, home, shard, serial, channel, after, recorder](history_range range) {
                on_store_range(home, shard, serial, channel, after, recorder, std::move(range));
            });
    });
}

void registry::on_store_range(std::size_t home, std::size_t shard, std::uint64_t serial,
                              const std::string& channel, event_id after,
                              const std::shared_ptr<read_recorder>& recorder, history_range range) {
    const auto it = homes_[home].find(channel);
    auto* state = it != homes_[home].end() ? &it->second : nullptr;
    if (state != nullptr && state->recorder == recorder && --recorder->readers == 0) {
        state->recorder.reset();
    }
    answer reply;
    if (range.result != history_range::outcome::complete || recorder->overflowed) {
        reply.reset = true;
        reply.events.push_back(make_shared_buffer(format_reset_event(channel)));
        reply.watermark = std::max(after, state != nullptr ? state->clock.last() : event_id{});
    } else {
        // The store's events, and what passed by here since (the subscriber skipped those
        // while pending) or earlier: merged by id, each once.
        std::vector<std::pair<event_id, shared_buffer>> merged;
        event_id covered = after;
        for (const auto& record : range.events) {
            covered = std::max(covered, record.id);
            merged.emplace_back(record.id, make_shared_buffer(format_sse_event(
                                               record.id, record.type, channel, record.data_json)));
        }
        if (state != nullptr) {
            for (auto& event : state->events.after(after, unix_ms_now()).events) {
                merged.emplace_back(event.id, std::move(event.sse));
            }
        }
        for (const auto& event : recorder->events) {
            if (event.id > after) {
                merged.emplace_back(event.id, event.sse);
            }
        }
        std::stable_sort(merged.begin(), merged.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        merged.erase(std::unique(merged.begin(), merged.end(),
                                 [](const auto& a, const auto& b) { return a.first == b.first; }),
                     merged.end());
        reply.resumed = true;
        for (auto& [id, sse] : merged) {
            reply.events.push_back(std::move(sse));
        }
        // Store events whose bus message is still on its way are skipped when it comes; an
        // event after `covered` was appended after the read, so it is not in the store's part.
        reply.watermark = covered;
    }
    boost::asio::post(pool_.context(shard),
                      [this, shard, serial, channel, reply = std::move(reply)]() mutable {
                          complete(shard, serial, channel, std::move(reply));
                      });
}

void registry::distribute(std::size_t home, const std::string& channel, channel_state& state,
                          event_id id, const shared_buffer& sse) {
    (void)home;
    state.events.append(stored_event{id, sse, unix_ms_now()}, unix_ms_now());
    if (state.recorder) {
        auto& recorded = *state.recorder;
        if (recorded.events.size() < std::max<std::size_t>(options_.history, 1)) {
            recorded.events.push_back(stored_event{id, sse, 0});
        } else {
            recorded.overflowed = true;
        }
    }
    if (id > state.retained_id && retain_.matches(channel)) {
        state.retained = sse;
        state.retained_id = id;
    }
    for (std::size_t shard = 0; shard < state.per_shard.size(); ++shard) {
        if (state.per_shard[shard] > 0) {
            run_on(shard, [this, shard, channel, id, sse] { deliver_on(shard, channel, id, sse); });
        }
    }
}

void registry::deliver_on(std::size_t shard, const std::string& channel, event_id id,
                          const shared_buffer& sse) {
    auto& local = shards_[shard];
    const auto it = local.subscriptions.find(channel);
    if (it == local.subscriptions.end()) {
        return;
    }
    // A copy of the targets: a delivery may end a slow subscriber, which unsubscribes and so
    // edits this list.
    std::vector<subscriber*> targets;
    targets.reserve(it->second.size());
    for (const auto& entry : it->second) {
        if (!entry.pending && id > entry.watermark) {
            targets.push_back(entry.target);
        }
    }
    for (auto* target : targets) {
        target->deliver(sse);
    }
    if (counters_ != nullptr) {
        counters_->events_delivered.add(targets.size());
    }
}

void registry::publish_all(
    std::string type, std::string data_json,
    std::function<void(std::vector<std::pair<std::string, event_id>>)> done) {
    const auto origin = pool_.current_shard();
    local_channels([this, origin, type = std::move(type), data_json = std::move(data_json),
                    done = std::move(done)](std::vector<channel_count> counts) {
        boost::json::array covered;
        for (const auto& count : counts) {
            covered.emplace_back(count.channel);
        }
        if (bus_.shared()) {
            boost::json::object message;
            message["type"] = type;
            boost::json::error_code ec;
            message["data"] = boost::json::parse(data_json, ec);
            message["except"] = std::move(covered);
            bus_.publish(all_channel_, make_shared_buffer(boost::json::serialize(message)));
            // One envelope for all of them, as StateleSSE's PublishToAll sends.
            publish_envelope(statelesse_all_groups, type, data_json, {});
        }
        struct gather {
            std::vector<std::pair<std::string, event_id>> ids;
            std::size_t waiting = 0;
            std::function<void(std::vector<std::pair<std::string, event_id>>)> done;
        };
        auto state = std::make_shared<gather>();
        state->waiting = counts.size();
        state->done = std::move(done);
        if (counts.empty()) {
            return state->done({});
        }
        for (auto& count : counts) {
            publish_here(count.channel, type, data_json, true, false,
                         [this, origin, state, channel = count.channel](event_id id) {
                             boost::asio::post(pool_.context(origin), [state, channel, id] {
                                 state->ids.emplace_back(channel, id);
                                 if (--state->waiting == 0) {
                                     state->done(std::move(state->ids));
                                 }
                             });
                         });
        }
    });
}

void registry::on_all_message(const shared_buffer& payload) {
    boost::json::error_code ec;
    const auto value = boost::json::parse(*payload, ec);
    const auto* object = ec ? nullptr : value.if_object();
    const auto* type = object == nullptr ? nullptr : object->if_contains("type");
    const auto* data = object == nullptr ? nullptr : object->if_contains("data");
    const auto* except = object == nullptr ? nullptr : object->if_contains("except");
    if (type == nullptr || !type->is_string() || !valid_type(type->get_string()) ||
        data == nullptr || except == nullptr || !except->is_array()) {
        return drop_malformed("an all-channel message without type, data or except");
    }
    std::vector<std::string> skip;
    for (const auto& name : except->get_array()) {
        if (name.is_string()) {
            skip.emplace_back(name.get_string());
        }
    }
    std::sort(skip.begin(), skip.end());
    local_channels([this, skip = std::move(skip), type = std::string(type->get_string()),
                    data_json = boost::json::serialize(*data)](std::vector<channel_count> counts) {
        for (auto& count : counts) {
            // The publishing instance covered these on their own bus channels.
            if (!std::binary_search(skip.begin(), skip.end(), count.channel)) {
                publish_here(std::move(count.channel), type, data_json, false, false, {});
            }
        }
    });
}

void registry::publish_envelope(std::string_view group_id, std::string_view type,
                                std::string_view data_json, std::string_view id) {
    if (statelesse_channel_.empty()) {
        return;
    }
    // Both the native publication and the envelope go out. Switchboard instances of this
    // deployment (same channel prefix) ignore the envelope: the native bus channel already
    // brought the event to exactly the instances serving it, with its id (so Last-Event-ID
    // resume works across instances) and its type, which the envelope lacks. Sending only the
    // envelope would lose both and make every instance receive every event. The tag costs
    // StateleSSE servers nothing: System.Text.Json skips unknown properties.
    const statelesse_origin origin{channel_prefix_, std::string(type), std::string(id)};
    bus_.publish(
        statelesse_channel_,
        make_shared_buffer(encode_statelesse_envelope(
            group_id, data_json, format_dotnet_utc(std::chrono::system_clock::now()), &origin)));
}

void registry::on_statelesse_message(const shared_buffer& payload) {
    if (payload->starts_with(statelesse_head_)) {
        return;  // another instance of this deployment: the native channel delivered it
    }
    auto envelope = decode_statelesse_envelope(*payload);
    if (!envelope) {
        return drop_malformed(envelope.error_message());
    }
    if (envelope->origin && envelope->origin->prefix == channel_prefix_) {
        return;  // ours after all, re-serialized by someone
    }
    // Another Switchboard deployment names its type; StateleSSE does not.
    auto type = envelope->origin && !envelope->origin->type.empty()
                    ? std::move(envelope->origin->type)
                    : statelesse_event_name(envelope->group_id, options_.statelesse_type);
    if (envelope->group_id != statelesse_all_groups) {
        return deliver_foreign(std::move(envelope->group_id), std::move(type),
                               std::move(envelope->payload_json));
    }
    local_channels([this, type = std::move(type), data_json = std::move(envelope->payload_json)](
                       std::vector<channel_count> counts) {
        for (auto& count : counts) {
            deliver_foreign(std::move(count.channel), type, data_json);
        }
    });
}

void registry::deliver_foreign(std::string channel, std::string type, std::string data_json) {
    const auto home = home_shard(channel);
    run_on(home, [this, home, channel = std::move(channel), type = std::move(type),
                  data_json = std::move(data_json)] {
        const auto it = homes_[home].find(channel);
        if (it == homes_[home].end() || it->second.subscribers == 0) {
            return;
        }
        auto& state = it->second;
        const auto id = next_local_id(state.clock);
        distribute(home, channel, state, id,
                   make_shared_buffer(format_sse_event(id, type, channel, data_json)));
    });
}

void registry::on_backplane_message(std::string_view channel, const shared_buffer& payload) {
    // Exact names first: the StateleSSE channel may share a prefix with the others.
    if (!statelesse_channel_.empty() && channel == statelesse_channel_) {
        return on_statelesse_message(payload);
    }
    if (channel == all_channel_) {
        return on_all_message(payload);
    }
    if (is_bus_event_from(*payload, origin_)) {
        return;  // published here, delivered here already
    }
    auto event = decode_bus_event(*payload);
    if (!event) {
        return drop_malformed(event.error_message());
    }
    if (!channel.starts_with(bus_prefix_) ||
        channel.substr(bus_prefix_.size()) != std::string_view(event->channel)) {
        return drop_malformed("channel of payload and bus differ");
    }
    const auto home = home_shard(event->channel);
    run_on(home, [this, home, event = std::move(*event)] {
        auto& channels = homes_[home];
        const auto it = channels.find(event.channel);
        if (it == channels.end()) {
            return;  // nobody here listens any more
        }
        auto& state = it->second;
        // Later local ids sort after every id seen (hybrid logical clock).
        state.clock.observe(event.id);
        const auto sse = make_shared_buffer(
            format_sse_event(event.id, event.type, event.channel, event.data_json));
        distribute(home, event.channel, state, event.id, sse);
    });
}

void registry::drop_malformed(std::string_view why) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    ++malformed_since_log_;
    const auto now = std::chrono::steady_clock::now();
    // At most one line a second: a broken publisher must not flood the log.
    if (now - last_malformed_log_ >= std::chrono::seconds(1)) {
        spdlog::warn("events: dropped {} malformed bus message(s); the last: {}",
                     malformed_since_log_, why);
        malformed_since_log_ = 0;
        last_malformed_log_ = now;
    }
}

void registry::local_channels(std::function<void(std::vector<channel_count>)> done) {
    struct gather {
        std::vector<channel_count> counts;
        std::size_t waiting = 0;
        std::function<void(std::vector<channel_count>)> done;
    };
    const auto origin = pool_.current_shard();
    auto state = std::make_shared<gather>();
    state->waiting = homes_.size();
    state->done = std::move(done);
    for (std::size_t home = 0; home < homes_.size(); ++home) {
        run_on(home, [this, home, origin, state] {
            std::vector<channel_count> found;
            for (const auto& [name, channel] : homes_[home]) {
                if (channel.subscribers > 0) {
                    found.push_back({name, channel.subscribers});
                }
            }
            boost::asio::post(pool_.context(origin), [state, found = std::move(found)]() mutable {
                std::move(found.begin(), found.end(), std::back_inserter(state->counts));
                if (--state->waiting == 0) {
                    std::sort(state->counts.begin(), state->counts.end(),
                              [](const auto& a, const auto& b) { return a.channel < b.channel; });
                    state->done(std::move(state->counts));
                }
            });
        });
    }
}

void registry::sweep() {
    for (std::size_t home = 0; home < homes_.size(); ++home) {
        boost::asio::post(pool_.context(home), [this, home] {
            const auto now_ms = unix_ms_now();
            const auto now = std::chrono::steady_clock::now();
            auto& channels = homes_[home];
            for (auto it = channels.begin(); it != channels.end();) {
                auto& state = it->second;
                state.events.trim(now_ms);
                if (state.subscribers == 0 && state.on_bus && now >= state.linger_until) {
                    leave_bus(it->first, state);
                }
                const bool idle = state.subscribers == 0 && !state.on_bus && state.events.empty() &&
                                  !state.retained;
                it = idle ? channels.erase(it) : std::next(it);
            }
        });
    }
}

std::size_t registry::local_subscriptions(std::size_t shard) const {
    std::size_t count = 0;
    for (const auto& [name, list] : shards_[shard].subscriptions) {
        count += list.size();
    }
    return count;
}

}  // namespace switchboard::events
