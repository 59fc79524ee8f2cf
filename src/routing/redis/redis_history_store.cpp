#include "routing/redis/redis_history_store.hpp"

#include "routing/redis/client_factory.hpp"
#include "routing/redis/lua_script.hpp"
#include "routing/redis/stream_history.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <utility>
#include <vector>

namespace switchboard::routing::redis {

redis_history_store::redis_history_store(boost::asio::io_context& context, client_options client,
                                         events::history_store_options options)
    : context_(context), options_(std::move(options)), scripted_(options_.publish) {
    client_ = make_pubsub_client(context_, std::move(client));
    client_->set_state_handler([this](bool up) { on_state(up); });
}

redis_history_store::~redis_history_store() {
    stop();
}

void redis_history_store::start() {
    client_->start();
}

void redis_history_store::stop() {
    available_.store(false, std::memory_order_relaxed);
    client_->stop();
}

void redis_history_store::on_state(bool up) {
    const bool was_up = available_.exchange(up, std::memory_order_relaxed);
    if (up && !was_up && publishes()) {
        // Ahead of every EVALSHA on the new connection: appends run on this thread too.
        load_script();
    }
}

void redis_history_store::load_script() {
    client_->command({}, stream_history::load_append_script_command(), [this](const redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_ERROR) {
            return;
        }
        // EVALSHAs sent meanwhile fail too: their callers publish themselves.
        scripted_.store(false, std::memory_order_relaxed);
        spdlog::warn(
            "event history: Redis refused the append script ({}); each event "
            "is stored with XADD and published after it instead",
            std::string_view(r->str, r->len));
    });
}

void redis_history_store::append(const std::string& channel, const std::string& type,
                                 const std::string& data_json, events::bus_copy copy,
                                 boost::asio::any_io_executor reply_on, append_callback done) {
    boost::asio::dispatch(
        context_,
        [this, key = stream_history::stream_key(options_.key_prefix, channel), type, data_json,
         copy = std::move(copy), reply_on = std::move(reply_on), done = std::move(done)]() mutable {
            do_append(std::move(key), std::move(type), std::move(data_json), std::move(copy),
                      std::move(reply_on), std::move(done));
        });
}

void redis_history_store::do_append(std::string key, std::string type, std::string data_json,
                                    events::bus_copy copy, boost::asio::any_io_executor reply_on,
                                    append_callback done) {
    auto answer = [reply_on, done](std::optional<events::event_id> id) {
        // Never inline: the caller's stack may hold its channel state.
        boost::asio::post(reply_on, [done, id] { done(id); });
    };
    if (!available()) {
        // Not queued for later: the publication goes out now with an id of the caller's.
        answer(std::nullopt);
        return;
    }
    // Publications from this instance to a channel keep their order: its stream lives on one
    // server, reached over one connection, which answers in order.
    if (publishes()) {
        const bool queued = client_->command(
            key,
            stream_history::append_and_publish_command(key, options_.max_count, options_.max_age,
                                                       type, data_json, std::move(copy)),
            [this, answer](const redisReply* reply) {
                if (reply != nullptr && is_noscript(*reply)) {
                    load_script();  // SCRIPT FLUSH: this one is published by the caller
                }
                answer(reply != nullptr ? stream_history::parse_id_reply(*reply) : std::nullopt);
            });
        if (!queued) {
            answer(std::nullopt);
        }
        return;
    }
    const bool queued = client_->command(
        key, stream_history::xadd_command(key, options_.max_count, type, data_json),
        [answer](const redisReply* reply) {
            answer(reply != nullptr ? stream_history::parse_id_reply(*reply) : std::nullopt);
        });
    if (!queued) {
        answer(std::nullopt);
        return;
    }
    // The expiry moves with every event; its reply (0/1) says nothing the store needs.
    client_->command(key, stream_history::pexpire_command(key, options_.max_age),
                     [](const redisReply*) {});
}

void redis_history_store::read_after(const std::string& channel, events::event_id after,
                                     std::size_t limit, boost::asio::any_io_executor reply_on,
                                     range_callback done) {
    boost::asio::dispatch(
        context_, [this, key = stream_history::stream_key(options_.key_prefix, channel), after,
                   limit, reply_on = std::move(reply_on), done = std::move(done)]() mutable {
            do_read(std::move(key), after, limit, std::move(reply_on), std::move(done));
        });
}

void redis_history_store::do_read(std::string key, events::event_id after, std::size_t limit,
                                  boost::asio::any_io_executor reply_on, range_callback done) {
    // XRANGE, then XINFO on the same connection: Redis answers in order, and a trim that
    // XINFO does not report (max-deleted-entry-id) cannot have touched the XRANGE's entries.
    struct pending {
        std::optional<std::vector<events::history_record>> entries;
        boost::asio::any_io_executor reply_on;
        range_callback done;
    };
    auto state =
        std::make_shared<pending>(pending{std::nullopt, std::move(reply_on), std::move(done)});
    auto answer = [state](events::history_range range) {
        boost::asio::post(state->reply_on,
                          [done = std::move(state->done), range = std::move(range)]() mutable {
                              done(std::move(range));
                          });
    };
    if (!available()) {
        answer({});  // unavailable: the resume answers `reset` now rather than after a reconnect
        return;
    }
    const auto max_bytes = options_.max_reply_bytes;
    const bool range_queued =
        client_->command(key, stream_history::xrange_command(key, after, limit),
                         [state, max_bytes](const redisReply* r) {
                             if (r != nullptr) {
                                 state->entries = stream_history::parse_range_reply(*r, max_bytes);
                             }
                         });
    if (!range_queued) {
        answer({});  // unavailable
        return;
    }
    const auto max_age = options_.max_age;
    const bool info_queued = client_->command(
        key, stream_history::xinfo_command(key),
        [state, answer, after, limit, max_age](const redisReply* r) {
            const auto info = r != nullptr ? stream_history::parse_info_reply(*r) : std::nullopt;
            if (!info || !state->entries) {
                answer({});  // unavailable: broken connection, error or malformed reply
                return;
            }
            answer(stream_history::judge_range(after, limit, std::move(*state->entries), *info,
                                               events::unix_ms_now(), max_age));
        });
    if (!info_queued) {
        // The XRANGE handler still runs; nobody answers from it, so answer here.
        answer({});
    }
}

}  // namespace switchboard::routing::redis
