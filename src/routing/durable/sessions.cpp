#include "routing/durable/sessions.hpp"

#include "routing/scaleout/messages.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>

namespace switchboard::routing::durable {

namespace {

// The router's control shard (router::control_shard): the bus and the log deliver there.
constexpr std::size_t control_shard = 0;
// Entries per catch-up read: large enough that a window's worth of a busy hub takes a few
// round trips, small enough that one reply stays a few hundred KiB. The connection's send
// queue bounds what a read hands it (logged_recipient::when_ready_for_more).
constexpr std::size_t catch_up_batch = 512;
// After a read the byte budget cut, the next asks for twice the entries that fit (so large
// messages are not read again eightfold), but never fewer than this.
constexpr std::size_t min_catch_up_read = 16;
// Checkpoints kept per connection while its client has not acked them: the oldest unacked one
// and a few newer; a client that never acks keeps its old checkpoint (and loses the takeover
// once the log moves past it).
constexpr std::size_t max_pending_checkpoints = 4;

void insert_sorted(std::vector<std::string>& names, const std::string& name) {
    const auto at = std::lower_bound(names.begin(), names.end(), name);
    if (at == names.end() || *at != name) {
        names.insert(at, name);
    }
}

void erase_sorted(std::vector<std::string>& names, const std::string& name) {
    const auto at = std::lower_bound(names.begin(), names.end(), name);
    if (at != names.end() && *at == name) {
        names.erase(at);
    }
}

}  // namespace

sessions::sessions(shard_pool& shards, backplane& bus, durable_log& log,
                   std::vector<scaleout::channels> hubs, sessions_options options)
    : shards_(shards),
      bus_(bus),
      log_(log),
      hubs_(std::move(hubs)),
      options_(std::move(options)),
      timer_(shards.context(control_shard)),
      outgoing_(shards.size()),
      users_(hubs_.size()),
      groups_(hubs_.size()) {}

sessions::~sessions() = default;

void sessions::start() {
    log_.set_observer(this);
    if (options_.checkpoint_interval.count() > 0) {
        do_checkpoints();
    }
}

void sessions::stop() {
    timer_.cancel();
    sessions_.clear();
    for (auto& index : users_) {
        index.clear();
    }
    for (auto& index : groups_) {
        index.clear();
    }
}

void sessions::on_control(std::function<void()> work) {
    if (shards_.current_shard() == control_shard) {
        return work();
    }
    boost::asio::post(shards_.context(control_shard), std::move(work));
}

std::string sessions::marker_channel() const {
    return options_.channel_prefix + "switchboard:durable";
}

void sessions::add(std::size_t hub, std::string connection_id, std::string token, std::string user,
                   protocol::wire_protocol protocol, std::weak_ptr<logged_recipient> target,
                   std::size_t shard) {
    on_control([this, hub, connection_id = std::move(connection_id), token = std::move(token),
                user = std::move(user), protocol, target = std::move(target), shard]() mutable {
        session s;
        s.hub = hub;
        s.record.connection_id = connection_id;
        s.record.hub = hubs_[hub].hub_name();
        s.record.user = std::move(user);
        s.record.protocol = protocol;
        s.record.position = log_.position();
        s.record.instance = options_.server_name;
        s.key = record_key(token);
        s.target = std::move(target);
        s.shard = shard;
        // Numbered from here: the first checkpoint holds at once (nothing sent, nothing to ack).
        s.written = encode_record(s.record);
        s.written_at = std::chrono::steady_clock::now();
        log_.put_record(s.key, s.written, log_.window());
        auto [it, inserted] = sessions_.insert_or_assign(connection_id, std::move(s));
        (void)inserted;
        index(it->second, true);
    });
}

void sessions::remove(std::string connection_id, bool ended) {
    on_control([this, connection_id = std::move(connection_id), ended] {
        const auto it = sessions_.find(connection_id);
        if (it == sessions_.end()) {
            return;
        }
        if (ended) {
            // Only while the record is still ours: a takeover elsewhere replaced it.
            log_.compare_and_set_record(it->second.key, it->second.written, "",
                                        std::chrono::milliseconds(1), [](expected<bool>) {});
        }
        forget(connection_id);
    });
}

void sessions::forget(const std::string& connection_id) {
    const auto it = sessions_.find(connection_id);
    if (it == sessions_.end()) {
        return;
    }
    if (!it->second.catching_up) {
        index(it->second, false);
    }
    sessions_.erase(it);
}

void sessions::index(session& s, bool add) {
    const auto& id = s.record.connection_id;
    const auto change = [&](auto& table, const std::string& name) {
        if (add) {
            table[name].insert(id);
            return;
        }
        const auto found = table.find(name);
        if (found != table.end()) {
            found->second.erase(id);
            if (found->second.empty()) {
                table.erase(found);
            }
        }
    };
    if (!s.record.user.empty()) {
        change(users_[s.hub], s.record.user);
    }
    for (const auto& group : s.record.groups) {
        change(groups_[s.hub], group);
    }
}

void sessions::on_ack(std::string connection_id, std::int64_t sequence) {
    on_control([this, connection_id = std::move(connection_id), sequence] {
        const auto it = sessions_.find(connection_id);
        if (it == sessions_.end()) {
            return;
        }
        it->second.acked = std::max(it->second.acked, sequence);
        commit(it->second);
    });
}

void sessions::stop_resuming(std::string connection_id) {
    on_control([this, connection_id = std::move(connection_id)] {
        const auto it = sessions_.find(connection_id);
        if (it == sessions_.end() || !it->second.resumable) {
            return;
        }
        auto& s = it->second;
        s.resumable = false;
        s.pending.clear();
        log_.compare_and_set_record(s.key, s.written, "", std::chrono::milliseconds(1),
                                    [](expected<bool>) {});
    });
}

void sessions::publish_frame(std::size_t hub, const std::string& connection_id,
                             protocol::wire_protocol protocol, const shared_buffer& frame) {
    scaleout::invocation invocation;
    invocation.payloads.push_back({std::string(scaleout::protocol_name(protocol)), frame});
    bus_.publish(hubs_[hub].connection(connection_id),
                 make_shared_buffer(scaleout::encode_invocation(invocation)));
}

void sessions::group_changed(std::size_t hub, const std::string& connection_id,
                             const std::string& group, bool join) {
    const boost::json::object marker{
        {"k", join ? "j" : "l"}, {"h", hubs_[hub].hub_name()}, {"c", connection_id}, {"v", group}};
    bus_.publish(marker_channel(), make_shared_buffer(boost::json::serialize(marker)));
}

std::optional<sessions::marker> sessions::parse_marker(std::string_view payload) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(payload, ec);
    if (ec || !parsed.is_object()) {
        return std::nullopt;
    }
    const auto& object = parsed.as_object();
    marker m;
    for (auto [name, out] :
         {std::pair{"k", static_cast<std::string*>(nullptr)}, std::pair{"h", &m.hub},
          std::pair{"c", &m.connection_id}, std::pair{"v", &m.value}}) {
        const auto* value = object.if_contains(name);
        if (value == nullptr || !value->is_string()) {
            return std::nullopt;
        }
        if (out != nullptr) {
            *out = value->get_string();
        } else if (value->get_string().size() == 1) {
            m.kind = value->get_string()[0];
        }
    }
    if (m.kind != 'j' && m.kind != 'l' && m.kind != 'm') {
        return std::nullopt;
    }
    return m;
}

bool sessions::apply_marker(session& s, const marker& m) {
    if (m.connection_id != s.record.connection_id || m.hub != s.record.hub) {
        return true;
    }
    if (m.kind == 'm') {
        // Our own claim carries our epoch: only a later claim moves the connection away.
        if (std::strtoull(m.value.c_str(), nullptr, 10) <= s.record.epoch) {
            return true;
        }
        if (auto target = s.target.lock()) {
            boost::asio::post(shards_.context(s.shard), [target] { target->on_moved(); });
        }
        forget(s.record.connection_id);
        return false;
    }
    const bool live = !s.catching_up;
    if (live) {
        index(s, false);
    }
    if (m.kind == 'j') {
        insert_sorted(s.record.groups, m.value);
    } else {
        erase_sorted(s.record.groups, m.value);
    }
    if (live) {
        index(s, true);
    }
    return true;
}

void sessions::deliver(session& s, const shared_buffer& frame) {
    outgoing_[s.shard].push_back({s.target, ++s.record.sequence, frame});
}

void sessions::flush() {
    for (std::size_t shard = 0; shard < outgoing_.size(); ++shard) {
        if (outgoing_[shard].empty()) {
            continue;
        }
        boost::asio::post(shards_.context(shard), [batch = std::move(outgoing_[shard])] {
            for (const auto& d : batch) {
                if (auto target = d.target.lock()) {
                    target->deliver_logged(d.sequence, d.frame);
                }
            }
        });
        outgoing_[shard].clear();
    }
}

void sessions::apply(session& s, const log_entry& entry, decoded_cache& decoded) {
    if (entry.channel == marker_channel()) {
        if (const auto m = parse_marker(*entry.payload)) {
            apply_marker(s, *m);
        }
        return;
    }
    if (const auto parsed = hubs_[s.hub].parse(entry.channel)) {
        apply_addressed(s, entry, *parsed, decoded);
    }
}

void sessions::apply_addressed(session& s, const log_entry& entry,
                               const scaleout::parsed_channel& to, decoded_cache& decoded) {
    bool addressed = false;
    switch (to.kind) {
    case scaleout::channel_kind::all:
        addressed = true;
        break;
    case scaleout::channel_kind::user:
        addressed = to.id == s.record.user && !s.record.user.empty();
        break;
    case scaleout::channel_kind::group:
        addressed =
            std::binary_search(s.record.groups.begin(), s.record.groups.end(), std::string(to.id));
        break;
    case scaleout::channel_kind::connection:
        addressed = to.id == s.record.connection_id;
        break;
    default:
        break;
    }
    if (!addressed) {
        return;
    }
    if (!decoded) {
        decoded.emplace(scaleout::decode_invocation(*entry.payload));  // once per entry
    }
    const auto& invocation = *decoded;
    // A client-result request reaches the client through its hub connection, which logs the
    // invocation it sends as a frame of its own; the request itself is not a message.
    if (!invocation || invocation->excludes(s.record.connection_id) ||
        (to.kind == scaleout::channel_kind::connection && invocation->invocation_id)) {
        return;
    }
    if (const auto* frame = invocation->payload(s.record.protocol)) {
        deliver(s, *frame);
    }
}

void sessions::on_log_entry(const log_entry& entry) {
    if (sessions_.empty()) {
        return;
    }
    const auto live_after_catch_up = [&entry](const session& s) {
        return !s.catching_up &&
               (s.caught_up_through.empty() || compare_log_ids(entry.id, s.caught_up_through) > 0);
    };
    if (entry.channel == marker_channel()) {
        const auto m = parse_marker(*entry.payload);
        const auto it = m ? sessions_.find(m->connection_id) : sessions_.end();
        if (it != sessions_.end() && live_after_catch_up(it->second)) {
            apply_marker(it->second, *m);
        }
        return;
    }
    // The candidates first: delivering never changes who is addressed by this entry.
    std::vector<session*> candidates;
    std::optional<scaleout::parsed_channel> parsed;
    for (std::size_t hub = 0; hub < hubs_.size() && candidates.empty(); ++hub) {
        parsed = hubs_[hub].parse(entry.channel);
        if (!parsed) {
            continue;
        }
        const auto add_ids = [&](const auto& table) {
            const auto found = table.find(std::string(parsed->id));
            if (found == table.end()) {
                return;
            }
            for (const auto& id : found->second) {
                candidates.push_back(&sessions_.at(id));
            }
        };
        switch (parsed->kind) {
        case scaleout::channel_kind::all:
            for (auto& [id, s] : sessions_) {
                if (s.hub == hub) {
                    candidates.push_back(&s);
                }
            }
            break;
        case scaleout::channel_kind::user:
            add_ids(users_[hub]);
            break;
        case scaleout::channel_kind::group:
            add_ids(groups_[hub]);
            break;
        case scaleout::channel_kind::connection:
            if (const auto it = sessions_.find(std::string(parsed->id));
                it != sessions_.end() && it->second.hub == hub) {
                candidates.push_back(&it->second);
            }
            break;
        default:
            break;
        }
    }
    decoded_cache decoded;
    for (auto* s : candidates) {
        if (live_after_catch_up(*s)) {
            apply_addressed(*s, entry, *parsed, decoded);  // the candidates' hub parsed it
        }
    }
    flush();
}

void sessions::on_log_gap() {
    spdlog::warn(
        "durable mode: the log lost entries this instance had not read; {} stateful "
        "connection(s) must start over",
        sessions_.size());
    for (auto& [id, s] : sessions_) {
        // The record goes first: the client's resume after the Close must get 404, not a takeover
        // that reads from a position the log no longer has (and closes it a second time).
        log_.compare_and_set_record(s.key, s.written, "", std::chrono::milliseconds(1),
                                    [this, target = s.target, shard = s.shard](expected<bool>) {
                                        if (auto alive = target.lock()) {
                                            boost::asio::post(shards_.context(shard),
                                                              [alive] { alive->on_state_lost(); });
                                        }
                                    });
    }
    stop();
    if (options_.checkpoint_interval.count() > 0) {
        do_checkpoints();
    }
}

void sessions::claim(std::size_t hub, std::string token, std::string user, claim_handler done) {
    on_control([this, hub, token = std::move(token), user = std::move(user),
                done = std::move(done)]() mutable {
        const auto key = record_key(token);
        log_.get_record(
            key, [this, hub, key, token = std::move(token), user = std::move(user),
                  done = std::move(done)](expected<std::optional<std::string>> found) mutable {
                if (!found) {
                    return done({std::nullopt, claim_failure::unavailable});
                }
                if (!*found || (*found)->empty()) {
                    return done({std::nullopt, claim_failure::unknown});
                }
                auto record = decode_record(**found);
                if (!record || record->hub != hubs_[hub].hub_name()) {
                    return done({std::nullopt, claim_failure::unknown});
                }
                if (record->user != user) {
                    return done({std::nullopt, claim_failure::forbidden});
                }
                if (sessions_.contains(record->connection_id)) {
                    return done({std::nullopt, claim_failure::taken});
                }
                // The log must still hold the checkpoint: a client it cannot be caught up is
                // refused now (404, it starts over) rather than accepted and closed at once.
                auto position = record->position;
                log_.read_after(
                    position, 1,
                    [this, hub, key, current = std::move(**found), record = std::move(*record),
                     token = std::move(token),
                     done = std::move(done)](expected<std::vector<log_entry>> covered) mutable {
                        if (!covered) {
                            if (covered.error_message().starts_with(log_unavailable)) {
                                return done({std::nullopt, claim_failure::unavailable});
                            }
                            log_.erase_record(key);
                            return done({std::nullopt, claim_failure::lost});
                        }
                        take_over(hub, key, std::move(current), std::move(record), std::move(token),
                                  std::move(done));
                    });
            });
    });
}

void sessions::take_over(std::size_t hub, const std::string& key, std::string current,
                         session_record record, std::string token, claim_handler done) {
    auto desired = std::move(record);
    ++desired.epoch;
    desired.instance = options_.server_name;
    auto text = encode_record(desired);
    log_.compare_and_set_record(
        key, std::move(current), text, log_.window(),
        [this, hub, desired = std::move(desired), token = std::move(token),
         done = std::move(done)](expected<bool> swapped) mutable {
            if (!swapped) {
                return done({std::nullopt, claim_failure::unavailable});
            }
            if (!*swapped) {
                return done({std::nullopt, claim_failure::taken});
            }
            // The old owner, if it lives, lets go when it reads this.
            const boost::json::object marker{{"k", "m"},
                                             {"h", hubs_[hub].hub_name()},
                                             {"c", desired.connection_id},
                                             {"v", std::to_string(desired.epoch)}};
            bus_.publish(marker_channel(), make_shared_buffer(boost::json::serialize(marker)));
            done({claimed_session{std::move(desired), std::move(token)}, claim_failure::unknown});
        });
}

void sessions::attach(std::size_t hub, claimed_session claimed,
                      std::weak_ptr<logged_recipient> target, std::size_t shard) {
    on_control(
        [this, hub, claimed = std::move(claimed), target = std::move(target), shard]() mutable {
            session s;
            s.hub = hub;
            s.key = record_key(claimed.token);
            s.written = encode_record(claimed.record);
            s.written_at = std::chrono::steady_clock::now();
            s.acked = claimed.record.sequence;
            s.snapshot_sequence = claimed.record.sequence;
            s.caught_up_through = claimed.record.position;
            s.record = std::move(claimed.record);
            s.target = std::move(target);
            s.shard = shard;
            s.catching_up = true;
            s.catch_up_read = catch_up_batch;
            const auto id = s.record.connection_id;
            const auto [it, inserted] = sessions_.insert_or_assign(id, std::move(s));
            (void)inserted;
            read_when_ready(it->second);
        });
}

void sessions::read_when_ready(const session& s) {
    auto target = s.target.lock();
    if (!target) {
        return forget(s.record.connection_id);  // the connection ended here
    }
    // The callback holds no recipient: the connection keeps it while its queue drains.
    boost::asio::post(shards_.context(s.shard), [this, target, id = s.record.connection_id] {
        target->when_ready_for_more([this, id](std::size_t budget) {
            boost::asio::post(shards_.context(control_shard),
                              [this, id, budget] { read_on(id, budget); });
        });
    });
}

void sessions::read_on(const std::string& connection_id, std::size_t budget) {
    const auto it = sessions_.find(connection_id);
    if (it == sessions_.end()) {
        return;
    }
    const auto count = it->second.catch_up_read;
    log_.read_after(it->second.caught_up_through, count,
                    [this, connection_id, budget, count](expected<std::vector<log_entry>> entries) {
                        const auto found = sessions_.find(connection_id);
                        if (found == sessions_.end()) {
                            return;
                        }
                        auto& s = found->second;
                        if (!entries) {
                            spdlog::info("durable mode: connection {} cannot resume: {}",
                                         connection_id, entries.error_message());
                            if (auto target = s.target.lock()) {
                                boost::asio::post(shards_.context(s.shard),
                                                  [target] { target->on_state_lost(); });
                            }
                            log_.erase_record(s.key);
                            return forget(connection_id);
                        }
                        // The bytes this batch queued for s (outgoing_ held none of them before):
                        // past the budget the rest waits for the next read.
                        const auto& queued = outgoing_[s.shard];
                        std::size_t counted = queued.size();
                        std::size_t bytes = 0;
                        std::size_t applied = 0;
                        for (const auto& entry : *entries) {
                            if (bytes >= budget) {
                                break;
                            }
                            ++applied;
                            s.caught_up_through = entry.id;
                            if (entry.channel == marker_channel()) {
                                const auto m = parse_marker(*entry.payload);
                                if (m && !apply_marker(s, *m)) {
                                    return flush();  // claimed again meanwhile: s is gone
                                }
                                continue;
                            }
                            decoded_cache decoded;
                            apply(s, entry, decoded);
                            for (; counted < queued.size(); ++counted) {
                                bytes += queued[counted].frame->size();
                            }
                        }
                        flush();
                        const bool cut = applied < entries->size();
                        s.catch_up_read = std::clamp(cut ? 2 * applied : 2 * count,
                                                     min_catch_up_read, catch_up_batch);
                        if (cut || entries->size() == count ||
                            compare_log_ids(s.caught_up_through, log_.position()) < 0) {
                            return read_when_ready(s);
                        }
                        // Every entry up to the live reader's position is applied: live from here,
                        // skipping what the catch-up read beyond it.
                        s.catching_up = false;
                        index(s, true);
                        if (auto target = s.target.lock()) {
                            boost::asio::post(shards_.context(s.shard),
                                              [target, groups = s.record.groups]() mutable {
                                                  target->on_caught_up(std::move(groups));
                                              });
                        }
                    });
}

void sessions::do_checkpoints() {
    timer_.expires_after(options_.checkpoint_interval);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) {
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        for (auto& [id, s] : sessions_) {
            if (s.catching_up || !s.resumable) {
                continue;
            }
            if (s.record.sequence == s.snapshot_sequence &&
                now - s.written_at < options_.refresh_interval) {
                continue;  // nothing new, and the last checkpoint is recent enough
            }
            if (s.pending.size() == max_pending_checkpoints) {
                s.pending.erase(s.pending.begin() + 1);  // keep the oldest, drop the next
            }
            s.pending.push_back({log_.position(), s.record.sequence, s.record.groups});
            s.snapshot_sequence = s.record.sequence;
            commit(s);
        }
        do_checkpoints();
    });
}

void sessions::commit(session& s) {
    if (s.writing || !s.resumable) {
        return;
    }
    // The newest checkpoint the client has acked every message of.
    std::optional<checkpoint> chosen;
    while (!s.pending.empty() && s.pending.front().sequence <= s.acked) {
        chosen = std::move(s.pending.front());
        s.pending.pop_front();
    }
    if (!chosen) {
        return;
    }
    auto record = s.record;
    record.position = std::move(chosen->position);
    record.sequence = chosen->sequence;
    record.groups = std::move(chosen->groups);
    auto text = encode_record(record);
    s.writing = true;
    const auto id = s.record.connection_id;
    log_.compare_and_set_record(
        s.key, s.written, text, log_.window(), [this, id, text](expected<bool> swapped) mutable {
            const auto it = sessions_.find(id);
            if (it == sessions_.end()) {
                return;
            }
            auto& s = it->second;
            if (swapped && !*swapped) {
                return lost_record(id);  // still `writing`: no checkpoint is tried meanwhile
            }
            s.writing = false;
            if (!swapped) {
                // Redis away: the next checkpoint tries again; the last one written stands.
                return;
            }
            s.written = std::move(text);
            s.written_at = std::chrono::steady_clock::now();
        });
}

// The record is no longer what this instance wrote: another instance claimed the connection
// (its record names it; its marker follows in the log), or the record is gone (Redis lost it,
// or its window passed), which no client can resume from: told so, not dropped to retry.
void sessions::lost_record(const std::string& connection_id) {
    const auto it = sessions_.find(connection_id);
    if (it == sessions_.end()) {
        return;
    }
    log_.get_record(it->second.key,
                    [this, connection_id](expected<std::optional<std::string>> found) {
                        const auto it = sessions_.find(connection_id);
                        if (it == sessions_.end()) {
                            return;
                        }
                        end_here(it->second, !found || (*found && !(*found)->empty()));
                    });
}

void sessions::end_here(session& s, bool moved) {
    if (auto target = s.target.lock()) {
        boost::asio::post(shards_.context(s.shard), [target, moved] {
            moved ? target->on_moved() : target->on_state_lost();
        });
    }
    forget(s.record.connection_id);
}

void sessions::confirm(std::string connection_id, std::function<void(bool resumable)> done) {
    on_control([this, connection_id = std::move(connection_id), done = std::move(done)]() mutable {
        const auto it = sessions_.find(connection_id);
        if (it == sessions_.end()) {
            return done(false);  // ended here already (moved or lost)
        }
        if (!it->second.resumable) {
            return done(true);  // no record to check: the transport's own answer stands
        }
        log_.get_record(it->second.key, [this, connection_id, done = std::move(done)](
                                            expected<std::optional<std::string>> found) {
            const auto it = sessions_.find(connection_id);
            if (it == sessions_.end()) {
                return done(false);  // ended meanwhile (moved or lost)
            }
            auto& s = it->second;
            if (!found) {
                // The store is away: resumed here, where the messages are; a takeover made
                // meanwhile still ends this copy when its marker arrives.
                return done(true);
            }
            const bool exists = *found && !(*found)->empty();
            if (exists) {
                const auto record = decode_record(**found);
                if (record && record->instance == s.record.instance &&
                    record->epoch == s.record.epoch) {
                    return done(true);
                }
            }
            end_here(s, exists);
            done(false);
        });
    });
}

}  // namespace switchboard::routing::durable
