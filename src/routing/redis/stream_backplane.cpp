#include "routing/redis/stream_backplane.hpp"

#include "core/random.hpp"
#include "routing/redis/lua_script.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <utility>
#include <vector>

namespace switchboard::routing::redis {

namespace {

using boost::system::error_code;

std::string_view text_of(const redisReply& reply) {
    return {reply.str, reply.len};
}

bool is_text(const redisReply& reply) {
    return reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS;
}

// [id, [field, value, ...]]: the id, or empty when the shape is not an entry's.
std::string_view entry_id(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 || !is_text(*reply.element[0])) {
        return {};
    }
    return text_of(*reply.element[0]);
}

// An entry of ours: fields o, c and p. Nothing for any other shape (an entry someone else
// added to the key).
std::optional<log_entry> parse_entry(const redisReply& reply) {
    const auto id = entry_id(reply);
    if (id.empty() || reply.element[1]->type != REDIS_REPLY_ARRAY) {
        return std::nullopt;
    }
    const auto& fields = *reply.element[1];
    log_entry entry;
    entry.id = std::string(id);
    bool has_channel = false;
    for (std::size_t i = 0; i + 1 < fields.elements; i += 2) {
        if (!is_text(*fields.element[i]) || !is_text(*fields.element[i + 1])) {
            return std::nullopt;
        }
        const auto name = text_of(*fields.element[i]);
        const auto value = text_of(*fields.element[i + 1]);
        if (name == "o") {
            entry.origin = std::string(value);
        } else if (name == "c") {
            entry.channel = std::string(value);
            has_channel = true;
        } else if (name == "p") {
            entry.payload = make_shared_buffer(std::string(value));
        }
    }
    if (!has_channel || !entry.payload) {
        return std::nullopt;
    }
    return entry;
}

std::uint64_t unix_ms_now() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// GET, compare, SET PX in one script: Redis runs it atomically, so of instances racing with
// the same `expected` exactly one sees it and wins.
constexpr std::string_view compare_and_set_script =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

// XADD once per publication, whatever the connection does: each instance numbers its
// publications 1, 2, ... under a writer key of its own, and a publication is appended only
// right after the previous one (or when the writer says none before it is outstanding). So a
// publication sent again after a broken connection is appended if its first try never ran,
// skipped (0) if it did, and one sent ahead of an earlier publication still to be resent is
// refused (-1) and sent again after it: the log keeps each instance's order. A writer key that
// is gone (expired after a quiet window, or Redis lost its data) accepts what comes.
// KEYS: log, writer. ARGV: min id, origin, channel, payload, sequence, lowest outstanding
// sequence, writer key TTL (ms).
constexpr std::string_view append_script = R"lua(
local last = redis.call('GET', KEYS[2])
local sequence = tonumber(ARGV[5])
if last then
  last = tonumber(last)
  if sequence <= last then return 0 end
  if sequence ~= last + 1 and sequence ~= tonumber(ARGV[6]) then return -1 end
end
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[7])
return redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*', 'o', ARGV[2], 'c', ARGV[3], 'p', ARGV[4])
)lua";

const std::string& append_script_sha1() {
    static const std::string sha1 = script_sha1(append_script);
    return sha1;
}

// The caps beyond the window's age: at most ARGV[1] entries (0: none), and at most the entries
// ARGV[2] bytes hold (0: none) at the average size of the newest hundred, which a script
// reads without sending them anywhere. MAXLEN ~ trims whole nodes, so it stays cheap.
// KEYS: log.
constexpr std::string_view trim_script = R"lua(
local cap = tonumber(ARGV[1])
local max_bytes = tonumber(ARGV[2])
if max_bytes > 0 then
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 100)
  local bytes = 0
  for _, entry in ipairs(newest) do
    for _, value in ipairs(entry[2]) do bytes = bytes + #value end
  end
  if bytes > 0 then
    local fit = math.max(1, math.floor(max_bytes * #newest / bytes))
    if cap == 0 or fit < cap then cap = fit end
  end
end
if cap == 0 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', cap)
)lua";

// A publication refused or lost this many times in a row is given up (counted as dropped):
// the order rule above cannot loop forever on a writer state it did not foresee.
constexpr int max_append_attempts = 64;

}  // namespace

stream_backplane::stream_backplane(boost::asio::io_context& context, stream_options options)
    : context_(context),
      options_(std::move(options)),
      log_key_(options_.key_prefix + "switchboard:log"),
      record_prefix_(options_.key_prefix + "switchboard:record:"),
      // Per process, not per server name: a restarted instance numbers from 1 again.
      writer_key_(options_.key_prefix + "switchboard:writer:" + options_.server_name + ":" +
                  make_random_id()),
      trim_timer_(context),
      retry_timer_(context) {
    // The log needs no subscriber to be listening: what is held back during an outage goes
    // out as soon as the connection is back, and readers catch up from their positions.
    options_.client.resume_delay = std::chrono::milliseconds(0);
    writer_ = std::make_unique<redis_client>(context_, options_.client);
    reader_ = std::make_unique<redis_client>(context_, options_.client);
    writer_->set_state_handler([this](bool) { on_state(); });
    reader_->set_state_handler([this](bool) { on_state(); });
}

stream_backplane::~stream_backplane() {
    stop();
}

std::string stream_backplane::record_key(std::string_view key) const {
    std::string out = record_prefix_;
    out.append(key);
    return out;
}

template <class F>
void stream_backplane::run(F f) {
    // Inline on the control shard (the router's own calls), posted from the others.
    boost::asio::dispatch(context_, std::move(f));
}

template <class Handler, class Value>
void stream_backplane::answer(Handler done, Value value) {
    boost::asio::post(context_, [done = std::move(done), value = std::move(value)]() mutable {
        done(std::move(value));
    });
}

void stream_backplane::start(backplane_handler& handler) {
    run([this, h = &handler] {
        handler_ = h;
        stopped_ = false;
        writer_->start();
        reader_->start();
        do_round();
        do_trim();
    });
}

void stream_backplane::stop() {
    // Called on the control shard, or after the shard threads stopped.
    stopped_ = true;
    handler_ = nullptr;
    writer_->stop();
    reader_->stop();
    trim_timer_.cancel();
    retry_timer_.cancel();
    reading_ = false;
    synced_ = false;
    discard_read_ = false;
    connected_ = false;
    subscriptions_.clear();
}

void stream_backplane::subscribe(const std::string& channel) {
    run([this, channel] { ++subscriptions_[channel]; });
}

void stream_backplane::unsubscribe(const std::string& channel) {
    run([this, channel] {
        const auto it = subscriptions_.find(channel);
        if (it != subscriptions_.end() && --it->second == 0) {
            subscriptions_.erase(it);
        }
    });
}

void stream_backplane::when_subscribed(const std::string& /*channel*/, std::function<void()> then) {
    // A subscription counts for every entry not handed on yet: once the reference count is
    // up (run() orders this after the subscribe), the next message from anywhere is heard.
    run([this, then = std::move(then)]() mutable { boost::asio::post(context_, std::move(then)); });
}

void stream_backplane::publish(const std::string& channel, shared_buffer payload) {
    if (context_.get_executor().running_in_this_thread()) {
        return publish_here(channel, payload);
    }
    run([this, channel, payload = std::move(payload)] { publish_here(channel, payload); });
}

void stream_backplane::publish_here(const std::string& channel, const shared_buffer& payload) {
    if (stopped_) {
        return;
    }
    const pending_append append{next_sequence_ + 1, 1, channel, payload};
    if (!send_append(append, false)) {
        return count_drop();
    }
    next_sequence_ = append.sequence;
    outstanding_.push_back(true);
    ++accepted_;
}

std::uint64_t stream_backplane::lowest_outstanding(std::uint64_t sequence) const noexcept {
    // The front of outstanding_ is outstanding (settle() pops settled ones), else none is.
    return outstanding_.empty() ? sequence : next_sequence_ + 1 - outstanding_.size();
}

void stream_backplane::settle(std::uint64_t sequence) {
    const auto base = next_sequence_ + 1 - outstanding_.size();
    if (sequence < base || sequence - base >= outstanding_.size()) {
        return;
    }
    outstanding_[sequence - base] = false;
    while (!outstanding_.empty() && !outstanding_.front()) {
        outstanding_.pop_front();
    }
}

bool stream_backplane::send_append(const pending_append& append, bool by_text) {
    const auto now = unix_ms_now();
    const auto window = static_cast<std::uint64_t>(options_.window.count());
    const auto min_id = now > window ? now - window : 0;
    // MINID ~: Redis trims whole macro nodes older than the window, cheaply, as it appends.
    return writer_->command(
        script_command(
            by_text ? "EVAL" : "EVALSHA",
            by_text ? append_script : std::string_view(append_script_sha1()),
            {log_key_, writer_key_},
            {std::to_string(min_id), options_.server_name, append.channel,
             append.payload ? std::string(*append.payload) : std::string(),
             std::to_string(append.sequence), std::to_string(lowest_outstanding(append.sequence)),
             std::to_string(std::max<std::int64_t>(1, options_.window.count()))}),
        [this, append](const redisReply* reply) { on_appended(append, reply); });
}

void stream_backplane::on_appended(pending_append append, const redisReply* reply) {
    // Lost with the connection, unknown to a restarted Redis, or ahead of an earlier one:
    // sent again (by text, which also loads the script), behind what is queued already.
    const bool again = reply == nullptr || is_noscript(*reply) ||
                       (reply->type == REDIS_REPLY_INTEGER && reply->integer < 0);
    if (again && append.attempts < max_append_attempts) {
        ++append.attempts;
        if (send_append(append, true)) {
            return;
        }
    }
    settle(append.sequence);
    ++answered_;
    if (again) {
        return count_drop();
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        ++refused_;
        spdlog::warn("backplane: Redis refused a log entry: {}", text_of(*reply));
    }
}

void stream_backplane::count_drop() {
    ++drops_since_log_;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    // One line per second at most: a long outage must not flood the log.
    if (now - last_drop_log_ >= std::chrono::seconds(1)) {
        spdlog::warn("backplane: Redis buffer full, dropped {} publication(s) (total {})",
                     drops_since_log_, dropped_.load(std::memory_order_relaxed));
        drops_since_log_ = 0;
        last_drop_log_ = now;
    }
}

void stream_backplane::on_state() {
    // Up once the reader knows where it stands: from then on every entry is handed on.
    const bool up = writer_->connected() && reader_->connected() && synced_;
    if (up == connected_.load(std::memory_order_relaxed)) {
        return;
    }
    connected_ = up;
    if (up) {
        if (std::exchange(was_up_, true)) {
            reconnects_.fetch_add(1, std::memory_order_relaxed);
        }
        spdlog::info("backplane: connected to Redis (log {})", log_key_);
    } else {
        spdlog::warn(
            "backplane: lost Redis; publishing into a bounded buffer, reading on from "
            "{} once it is back",
            position_);
    }
}

void stream_backplane::do_trim() {
    if (stopped_) {
        return;
    }
    if ((options_.max_entries > 0 || options_.max_bytes > 0) && writer_->connected()) {
        // By text: once a trim interval, and a restarted Redis needs no second try.
        writer_->command(
            script_command(
                "EVAL", trim_script, {log_key_},
                {std::to_string(options_.max_entries), std::to_string(options_.max_bytes)}),
            [](const redisReply* reply) {
                if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
                    spdlog::warn("backplane: Redis durable log trim failed: {}", text_of(*reply));
                }
            });
    }
    trim_timer_.expires_after(options_.trim_interval);
    trim_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
        if (!ec && !alive.expired()) {
            do_trim();
        }
    });
}

// One round: XINFO STREAM, then (once the start is known) XREAD from position_, pipelined on
// the read connection. Commands queued while it is down go out when it is back, so the first
// thing a new connection does is check what was lost.
void stream_backplane::do_round() {
    if (stopped_ || reading_) {
        return;
    }
    reading_ = true;
    const bool queued =
        reader_->command({"XINFO", "STREAM", log_key_},
                         [this](const redisReply* reply) { on_info(reply); }) &&
        (!synced_ ||
         reader_->command({"XREAD", "COUNT", std::to_string(options_.read_batch), "BLOCK",
                           std::to_string(options_.block.count()), "STREAMS", log_key_, position_},
                          [this](const redisReply* reply) { on_entries(reply); }));
    if (!queued) {
        reading_ = false;
        retry_later();
    }
}

void stream_backplane::retry_later() {
    // A second: the same pace as a quiet XREAD, no busy loop on a refusing server.
    retry_timer_.expires_after(std::chrono::seconds(1));
    retry_timer_.async_wait([this, alive = std::weak_ptr<char>(alive_)](error_code ec) {
        if (!ec && !alive.expired()) {
            do_round();
        }
    });
}

void stream_backplane::on_info(const redisReply* reply) {
    std::optional<stream_state> state;
    if (reply != nullptr) {
        if (reply->type == REDIS_REPLY_ERROR) {
            if (text_of(*reply).find("no such key") != std::string_view::npos) {
                state.emplace();
            } else {
                spdlog::warn("backplane: XINFO STREAM {}: {}", log_key_, text_of(*reply));
            }
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements % 2 == 0) {
            state.emplace();
            state->exists = true;
            std::optional<long long> length;
            std::optional<long long> added;
            for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
                const auto& value = *reply->element[i + 1];
                const auto field = text_of(*reply->element[i]);
                if (field == "length" && value.type == REDIS_REPLY_INTEGER) {
                    length = value.integer;
                } else if (field == "entries-added" && value.type == REDIS_REPLY_INTEGER) {
                    added = value.integer;
                } else if (field == "first-entry") {
                    state->first_entry = std::string(entry_id(value));
                } else if (field == "last-entry") {
                    state->last_entry = std::string(entry_id(value));
                }
            }
            if (length && added && *added >= *length && *length >= 0) {
                state->added = static_cast<std::uint64_t>(*added);
                state->removed = static_cast<std::uint64_t>(*added - *length);
            }
        }
    }
    if (!synced_) {
        // The start: reading begins at the stream's current end.
        reading_ = false;
        if (!state) {
            // Broken connection (the round is queued again for the next one) or an error.
            return reply == nullptr ? do_round() : retry_later();
        }
        resync(*state);
        synced_ = true;
        on_state();
        return do_round();
    }
    // The XREAD that follows answers for the round (a broken connection fails both).
    if (state && lost_entries(*state)) {
        spdlog::warn(
            "backplane: entries of {} after {} are gone (trimmed, or Redis lost the "
            "stream); reading on from its end",
            log_key_, position_);
        resync(*state);
        discard_read_ = true;
        if (observer_ != nullptr) {
            observer_->on_log_gap();
        }
    }
}

// Whether entries after position_ were removed before the reader got them. With Redis's
// entries-added (7.0+), exact: entry ordinals run 1, 2, ... and trimming removes from the
// head, so the first `removed` ordinals are gone; ours must not be below that, the stream
// cannot have fewer entries ever added than we read (else it was created anew), and our
// entry, if not trimmed, must still be there. Without it: the first entry is after ours.
bool stream_backplane::lost_entries(const stream_state& state) const {
    const auto seen = ordinal_.value_or(0);
    if (!state.exists) {
        return seen > 0 || position_ != "0-0";
    }
    const bool first_after_ours =
        !state.first_entry.empty() && compare_log_ids(state.first_entry, position_) > 0;
    if (state.added && state.removed && ordinal_) {
        return *state.added < seen || *state.removed > seen ||
               (first_after_ours && *state.removed < seen);
    }
    return first_after_ours && position_ != "0-0";
}

void stream_backplane::resync(const stream_state& state) {
    position_ = state.last_entry.empty() ? std::string("0-0") : state.last_entry;
    ordinal_ = state.exists ? state.added : std::optional<std::uint64_t>(0);
}

void stream_backplane::on_entries(const redisReply* reply) {
    reading_ = false;
    // A broken connection (the next one starts with the check), a read from a position given
    // up, or BLOCK timed out with nothing new.
    if (std::exchange(discard_read_, false) || reply == nullptr || reply->type == REDIS_REPLY_NIL) {
        return do_round();
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
        reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        spdlog::warn("backplane: XREAD {}: {}", log_key_,
                     reply->type == REDIS_REPLY_ERROR ? text_of(*reply) : "unexpected reply");
        return retry_later();
    }
    const auto& entries = *reply->element[0]->element[1];
    for (std::size_t i = 0; i < entries.elements; ++i) {
        const auto& raw = *entries.element[i];
        const auto id = entry_id(raw);
        if (id.empty()) {
            continue;
        }
        position_ = std::string(id);
        if (ordinal_) {
            ++*ordinal_;
        }
        auto entry = parse_entry(raw);
        if (!entry) {
            rejected_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        if (observer_ != nullptr) {
            observer_->on_log_entry(*entry);
        }
        if (handler_ != nullptr && entry->origin != options_.server_name &&
            subscriptions_.contains(entry->channel)) {
            handler_->on_backplane_message(entry->channel, entry->payload);
        }
        if (stopped_) {
            return;  // a callback stopped the bus
        }
    }
    do_round();
}

void stream_backplane::read_after(const std::string& after, std::size_t count, read_handler done) {
    if (!writer_->connected()) {
        return answer(std::move(done),
                      expected<std::vector<log_entry>>(make_error(std::string(log_unavailable))));
    }
    const bool from_start = after == "0-0";
    // From the start, nothing may have been trimmed yet: XINFO's entries-added (7.0+) above
    // the length says something was, answered before the XRANGE on the same connection.
    auto head_trimmed = std::make_shared<bool>(false);
    if (from_start &&
        !writer_->command({"XINFO", "STREAM", log_key_}, [head_trimmed](const redisReply* reply) {
            if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
                return;  // no stream yet: nothing trimmed
            }
            long long length = 0;
            long long added = 0;
            for (std::size_t i = 0; i + 1 < reply->elements; i += 2) {
                const auto& value = *reply->element[i + 1];
                const auto field = text_of(*reply->element[i]);
                if (value.type == REDIS_REPLY_INTEGER && field == "length") {
                    length = value.integer;
                } else if (value.type == REDIS_REPLY_INTEGER && field == "entries-added") {
                    added = value.integer;
                }
            }
            *head_trimmed = added > length;
        })) {
        return answer(std::move(done),
                      expected<std::vector<log_entry>>(make_error(std::string(log_unavailable))));
    }
    // From `after` inclusive: finding it first proves nothing after it was trimmed.
    const auto limit = std::to_string(from_start ? count : count + 1);
    auto handler = [after, from_start, head_trimmed, done](const redisReply* reply) mutable {
        using result = expected<std::vector<log_entry>>;
        if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
            return done(result(make_error(std::string(log_unavailable))));
        }
        if (*head_trimmed) {
            return done(result(make_error("trimmed")));
        }
        std::vector<log_entry> out;
        for (std::size_t i = 0; i < reply->elements; ++i) {
            const auto& raw = *reply->element[i];
            if (i == 0 && !from_start) {
                if (compare_log_ids(entry_id(raw), after) != 0) {
                    return done(result(make_error("trimmed")));
                }
                continue;
            }
            if (auto entry = parse_entry(raw)) {
                out.push_back(std::move(*entry));
            }
        }
        if (reply->elements == 0 && !from_start) {
            return done(result(make_error("trimmed")));
        }
        done(result(std::move(out)));
    };
    if (!writer_->command(
            {"XRANGE", log_key_, from_start ? std::string("-") : after, "+", "COUNT", limit},
            std::move(handler))) {
        answer(std::move(done),
               expected<std::vector<log_entry>>(make_error(std::string(log_unavailable))));
    }
}

void stream_backplane::put_record(const std::string& key, std::string value,
                                  std::chrono::milliseconds ttl) {
    // In order with the publications: queued while Redis is away, like them.
    writer_->command({"SET", record_key(key), std::move(value), "PX",
                      std::to_string(std::max<std::int64_t>(1, ttl.count()))},
                     [](const redisReply*) {});
}

void stream_backplane::get_record(const std::string& key, get_handler done) {
    using result = expected<std::optional<std::string>>;
    if (!writer_->connected()) {
        return answer(std::move(done), result(make_error(std::string(log_unavailable))));
    }
    auto handler = [done](const redisReply* reply) {
        if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
            return done(result(make_error(std::string(log_unavailable))));
        }
        if (reply->type == REDIS_REPLY_NIL) {
            return done(result(std::optional<std::string>()));
        }
        done(result(std::optional<std::string>(std::string(text_of(*reply)))));
    };
    if (!writer_->command({"GET", record_key(key)}, handler)) {
        answer(std::move(done), result(make_error(std::string(log_unavailable))));
    }
}

void stream_backplane::compare_and_set_record(const std::string& key, std::string expected_value,
                                              std::string desired, std::chrono::milliseconds ttl,
                                              swap_handler done) {
    using result = expected<bool>;
    if (!writer_->connected()) {
        return answer(std::move(done), result(make_error(std::string(log_unavailable))));
    }
    auto handler = [done](const redisReply* reply) {
        if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
            return done(result(make_error(std::string(log_unavailable))));
        }
        done(result(reply->integer == 1));
    };
    if (!writer_->command({"EVAL", std::string(compare_and_set_script), "1", record_key(key),
                           std::move(expected_value), std::move(desired),
                           std::to_string(std::max<std::int64_t>(1, ttl.count()))},
                          handler)) {
        answer(std::move(done), result(make_error(std::string(log_unavailable))));
    }
}

void stream_backplane::erase_record(const std::string& key) {
    writer_->command({"DEL", record_key(key)}, [](const redisReply*) {});
}

}  // namespace switchboard::routing::redis
