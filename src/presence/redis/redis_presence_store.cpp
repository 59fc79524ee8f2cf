#include "presence/redis/redis_presence_store.hpp"

#include "presence/redis/presence_scripts.hpp"
#include "routing/redis/client_factory.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace switchboard::presence::redis {

namespace {

// Entries a heartbeat deletes of a dead instance at most: bounds the script's run time (Redis
// runs nothing else meanwhile) to a few milliseconds; more waits for the next call, which
// follows at once.
constexpr std::size_t reap_batch = 1000;
// Unsettled connections remembered at most: far more than a pipeline holds in flight when a
// connection breaks; beyond it (a long outage with heavy churn) entries may stay stale until
// their instance restarts, and a warning says so.
constexpr std::size_t max_unsettled = 100'000;

}  // namespace

redis_store::redis_store(boost::asio::io_context& context, routing::redis::client_options client,
                         store_options options)
    : context_(context),
      options_(std::move(options)),
      base_(key_base(options_.key_prefix)),
      heartbeat_timer_(context) {
    // Updates wait for nothing after a reconnect: the heartbeat decides what to write again.
    client.resume_delay = std::chrono::milliseconds(0);
    client_ = routing::redis::make_pubsub_client(context_, std::move(client));
    client_->set_state_handler([this](bool up) {
        connected_.store(up, std::memory_order_relaxed);
        scripts_loaded_ = false;
        ++connects_;
        if (up && running_) {
            load_scripts();
            heartbeat();  // at once: Redis may have restarted empty
        }
    });
}

redis_store::~redis_store() {
    stop();
}

void redis_store::start(change_handler on_change) {
    boost::asio::dispatch(context_, [this, on_change = std::move(on_change)]() mutable {
        on_change_ = std::move(on_change);
        running_ = true;
        client_->start();
        heartbeat();  // queued first: this incarnation is live before its first entry
    });
}

void redis_store::stop() {
    running_ = false;
    heartbeat_timer_.cancel();
    connected_.store(false, std::memory_order_relaxed);
    client_->stop();
}

std::string redis_store::expiry_ms() const {
    return std::to_string(options_.expiry.count());
}

void redis_store::load_scripts() {
    const auto scripts = all_scripts();
    auto remaining = std::make_shared<std::size_t>(scripts.size());
    for (const auto* which : scripts) {
        client_->command(base_, load_command(*which),
                         [this, remaining, epoch = connects_](const redisReply* reply) {
                             if (reply != nullptr && reply->type != REDIS_REPLY_ERROR &&
                                 --*remaining == 0 && epoch == connects_) {
                                 scripts_loaded_ = true;
                             }
                         });
    }
}

void redis_store::run_script(const script& which, std::vector<std::string> arguments,
                             reply_handler handler) {
    if (!scripts_loaded_) {
        if (!client_->command(base_, eval_command(which, std::move(arguments)), handler)) {
            boost::asio::post(context_, [handler] { handler(nullptr); });
        }
        return;
    }
    auto retry = std::make_shared<std::vector<std::string>>(eval_command(which, arguments));
    const bool queued =
        client_->command(base_, evalsha_command(which, std::move(arguments)),
                         [this, retry, handler](const redisReply* reply) {
                             if (reply != nullptr && is_noscript(*reply)) {
                                 if (!client_->command(base_, *retry, handler)) {
                                     handler(nullptr);
                                 }
                                 return;
                             }
                             if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
                                 spdlog::warn("presence: Redis refused a script: {}",
                                              std::string_view(reply->str, reply->len));
                             }
                             handler(reply);
                         });
    if (!queued) {
        boost::asio::post(context_, [handler] { handler(nullptr); });
    }
}

void redis_store::report(user_change change) {
    if (on_change_) {
        on_change_(change);
    }
}

void redis_store::write_connection(const local_connection& entry) {
    run_script(add_script(),
               {base_, options_.instance, expiry_ms(), entry.hub, entry.connection_id,
                entry.user_id, std::to_string(entry.connected_at_ms)},
               [this, hub = entry.hub, user = entry.user_id,
                id = entry.connection_id](const redisReply* reply) {
                   if (reply == nullptr) {
                       return unsettle(hub, id, user);
                   }
                   if (parse_integer(*reply) == 1) {
                       report(user_change{hub, user, true, id});
                   }
               });
}

void redis_store::write_group(const local_connection& entry, const std::string& group) {
    run_script(join_script(),
               {base_, options_.instance, expiry_ms(), entry.hub, entry.connection_id,
                entry.user_id, group, std::to_string(entry.connected_at_ms)},
               [this, hub = entry.hub, id = entry.connection_id,
                user = entry.user_id](const redisReply* reply) {
                   if (reply == nullptr && local_.contains(id)) {
                       unsettle(hub, id, user);
                   }
               });
}

void redis_store::send_remove(const std::string& hub, const std::string& id,
                              const std::string& user) {
    run_script(remove_script(), {base_, options_.instance, expiry_ms(), hub, id, user},
               [this, hub, user, id](const redisReply* reply) {
                   if (reply == nullptr) {
                       return unsettle(hub, id, user);
                   }
                   if (parse_integer(*reply) == 1) {
                       report(user_change{hub, user, false, id});
                   }
               });
}

void redis_store::send_leave(const std::string& hub, const std::string& id,
                             const std::string& group) {
    run_script(leave_script(), {base_, options_.instance, expiry_ms(), hub, id, group},
               [this, hub, id, group](const redisReply* reply) {
                   if (reply == nullptr) {
                       const auto found = local_.find(id);
                       // A connection gone since is settled by its removal.
                       if (found != local_.end()) {
                           unsettle(hub, id, found->second.user_id, &group);
                       }
                   }
               });
}

void redis_store::unsettle(const std::string& hub, const std::string& id, const std::string& user,
                           const std::string* group_left) {
    if (!running_) {
        return;
    }
    auto found = unsettled_.find(id);
    if (found == unsettled_.end()) {
        if (unsettled_.size() >= max_unsettled) {
            spdlog::warn(
                "presence: over {} writes without an answer from Redis; some entries "
                "of this instance may stay stale",
                max_unsettled);
            return;
        }
        found = unsettled_.emplace(id, unsettled_connection{hub, user, {}}).first;
    }
    if (group_left != nullptr) {
        found->second.groups_left.insert(*group_left);
    }
}

void redis_store::settle() {
    auto unsettled = std::exchange(unsettled_, {});
    for (auto& [id, entry] : unsettled) {
        const auto local = local_.find(id);
        if (local == local_.end()) {
            send_remove(entry.hub, id, entry.user_id);
            continue;
        }
        write_connection(local->second);
        for (const auto& group : local->second.groups) {
            write_group(local->second, group);
        }
        for (const auto& group : entry.groups_left) {
            if (!local->second.groups.contains(group)) {
                send_leave(entry.hub, id, group);
            }
        }
    }
}

void redis_store::connection_added(std::string_view hub, const connection_entry& entry) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), entry] {
        auto& local = local_[entry.connection_id];
        local =
            local_connection{hub, entry.connection_id, entry.user_id, entry.connected_at_ms, {}};
        write_connection(local);
    });
}

void redis_store::connection_removed(std::string_view hub, std::string_view connection_id,
                                     std::string_view user_id) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     user = std::string(user_id)] {
        local_.erase(id);
        send_remove(hub, id, user);
    });
}

void redis_store::group_joined(std::string_view hub, std::string_view connection_id,
                               std::string_view user_id, std::string_view group) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     user = std::string(user_id), group = std::string(group)] {
        const auto found = local_.find(id);
        if (found == local_.end()) {
            // Not (or no longer) a connection of this instance: written as it is, not mirrored.
            write_group(local_connection{hub, id, user, 0, {}}, group);
            return;
        }
        found->second.groups.insert(group);
        write_group(found->second, group);
    });
}

void redis_store::group_left(std::string_view hub, std::string_view connection_id,
                             std::string_view group) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), id = std::string(connection_id),
                                     group = std::string(group)] {
        if (const auto found = local_.find(id); found != local_.end()) {
            found->second.groups.erase(group);
        }
        send_leave(hub, id, group);
    });
}

void redis_store::schedule_heartbeat() {
    heartbeat_timer_.expires_after(options_.heartbeat_interval);
    heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && running_) {
            heartbeat();
        }
    });
}

void redis_store::heartbeat() {
    heartbeat_timer_.cancel();
    run_script(heartbeat_script(),
               {base_, options_.instance, expiry_ms(), std::to_string(reap_batch)},
               [this](const redisReply* reply) {
                   if (!running_) {
                       return;
                   }
                   const auto result = reply != nullptr ? parse_heartbeat(*reply) : std::nullopt;
                   const bool first = !announced_;
                   announced_ = announced_ || result.has_value();
                   if (result && result->revived && !first && !local_.empty()) {
                       spdlog::info(
                           "presence: writing {} connection(s) again (this instance "
                           "was missing from Redis)",
                           local_.size());
                       for (const auto& [id, entry] : local_) {
                           write_connection(entry);
                           for (const auto& group : entry.groups) {
                               write_group(entry, group);
                           }
                       }
                   }
                   if (result) {
                       for (const auto& change : result->offline) {
                           report(change);
                       }
                       settle();
                   }
                   if (result && result->more) {
                       boost::asio::post(context_, [this] {
                           if (running_) {
                               heartbeat();
                           }
                       });
                       return;
                   }
                   schedule_heartbeat();
               });
}

void redis_store::online_users(std::string_view hub, std::string cursor, std::size_t limit,
                               page_callback<std::string> done) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), cursor = std::move(cursor),
                                     limit, done = std::move(done)] {
        run_script(users_script(),
                   {base_, expiry_ms(), hub, cursor.empty() ? "0" : cursor, std::to_string(limit)},
                   [done](const redisReply* reply) {
                       auto parsed = reply != nullptr ? parse_users(*reply) : std::nullopt;
                       if (!parsed) {
                           return done(make_error("presence store unavailable"));
                       }
                       done(std::move(*parsed));
                   });
    });
}

void redis_store::entries_query(std::string key, std::string user, bool group, std::string cursor,
                                std::size_t limit, page_callback<connection_entry> done) {
    boost::asio::dispatch(context_, [this, key = std::move(key), user = std::move(user), group,
                                     cursor = std::move(cursor), limit, done = std::move(done)] {
        run_script(entries_script(),
                   {base_, expiry_ms(), key, cursor.empty() ? "0" : cursor, std::to_string(limit)},
                   [done, user, group](const redisReply* reply) {
                       auto parsed = reply != nullptr ? parse_entries(*reply, group) : std::nullopt;
                       if (!parsed) {
                           return done(make_error("presence store unavailable"));
                       }
                       if (!group) {
                           for (auto& entry : parsed->entries) {
                               entry.user_id = user;
                           }
                       }
                       done(std::move(*parsed));
                   });
    });
}

void redis_store::user_connections(std::string_view hub, std::string_view user_id,
                                   std::string cursor, std::size_t limit,
                                   page_callback<connection_entry> done) {
    auto key = hub_base(base_, hub);
    key += "u:";
    key += user_id;
    entries_query(std::move(key), std::string(user_id), false, std::move(cursor), limit,
                  std::move(done));
}

void redis_store::group_members(std::string_view hub, std::string_view group, std::string cursor,
                                std::size_t limit, page_callback<connection_entry> done) {
    auto key = hub_base(base_, hub);
    key += "g:";
    key += group;
    entries_query(std::move(key), {}, true, std::move(cursor), limit, std::move(done));
}

void redis_store::is_online(std::string_view hub, std::string_view user_id,
                            std::function<void(expected<bool>)> done) {
    boost::asio::dispatch(context_, [this, hub = std::string(hub), user = std::string(user_id),
                                     done = std::move(done)] {
        run_script(online_script(), {base_, expiry_ms(), hub, user},
                   [done](const redisReply* reply) {
                       const auto value = reply != nullptr ? parse_integer(*reply) : std::nullopt;
                       if (!value) {
                           return done(make_error("presence store unavailable"));
                       }
                       done(*value == 1);
                   });
    });
}

void redis_store::command(std::vector<std::string> arguments, reply_handler handler) {
    boost::asio::dispatch(context_,
                          [this, arguments = std::move(arguments), handler = std::move(handler)] {
                              if (!client_->command(base_, arguments, handler)) {
                                  boost::asio::post(context_, [handler] { handler(nullptr); });
                              }
                          });
}

namespace {
error unavailable() {
    return make_error("shared state unavailable");
}
}  // namespace

void redis_store::state_get(std::string key, value_callback done) {
    command({"GET", state_key(key)}, [done](const redisReply* reply) {
        if (reply == nullptr ||
            (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL)) {
            return done(unavailable());
        }
        done(reply->type == REDIS_REPLY_NIL
                 ? std::nullopt
                 : std::optional<std::string>(std::string(reply->str, reply->len)));
    });
}

void redis_store::state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                            std::function<void(expected<void>)> done) {
    std::vector<std::string> arguments{"SET", state_key(key), std::move(value)};
    if (ttl.count() > 0) {
        arguments.emplace_back("PX");
        arguments.push_back(std::to_string(ttl.count()));
    }
    command(std::move(arguments), [done](const redisReply* reply) {
        if (!done) {
            return;
        }
        if (reply == nullptr || reply->type != REDIS_REPLY_STATUS) {
            return done(unavailable());
        }
        done({});
    });
}

void redis_store::state_erase(std::string key, flag_callback done) {
    command({"DEL", state_key(key)}, [done](const redisReply* reply) {
        if (!done) {
            return;
        }
        const auto removed = reply != nullptr ? parse_integer(*reply) : std::nullopt;
        if (!removed) {
            return done(unavailable());
        }
        done(*removed > 0);
    });
}

void redis_store::state_compare_and_set(std::string key, std::optional<std::string> expected,
                                        std::string value, std::chrono::milliseconds ttl,
                                        flag_callback done) {
    boost::asio::dispatch(context_, [this, key = state_key(key), expected = std::move(expected),
                                     value = std::move(value), ttl, done = std::move(done)] {
        run_script(compare_and_set_script(),
                   {key, expected ? "1" : "0", expected.value_or(std::string()), value,
                    std::to_string(ttl.count())},
                   [done](const redisReply* reply) {
                       const auto set = reply != nullptr ? parse_integer(*reply) : std::nullopt;
                       if (!set) {
                           return done(unavailable());
                       }
                       done(*set == 1);
                   });
    });
}

}  // namespace switchboard::presence::redis
