#include "hub/chat_hub.hpp"

#include <algorithm>

namespace switchboard::hub {

namespace {

// The name shown to others: the user id, or the connection id for anonymous connections.
const std::string& display_name(const hub_context& context) {
    return context.user_id().empty() ? context.connection_id() : context.user_id();
}

hub_result<> check_group(const std::string& group) {
    if (group.empty()) {
        return hub_error("Group name must not be empty.");
    }
    return {};
}

// `pattern` with every "{user}" replaced by the caller's user id.
std::string for_user(std::string_view pattern, std::string_view user) {
    constexpr std::string_view placeholder = "{user}";
    std::string out;
    for (auto at = pattern.find(placeholder); at != std::string_view::npos;
         at = pattern.find(placeholder)) {
        out.append(pattern.substr(0, at)).append(user);
        pattern.remove_prefix(at + placeholder.size());
    }
    return out.append(pattern);
}

// The most a presence list answers: beyond it the list says it is cut (one JSON array must
// stay far below --max-message-size; 1,000 names of ~30 bytes is ~30 KB).
constexpr std::size_t max_listed = 1000;

// Collects pages of a presence query until the last one or max_listed entries.
template <class T, class Ask>
void collect(Ask ask, std::string cursor, std::vector<T> so_far,
             std::function<void(expected<std::vector<T>>)> done) {
    ask(cursor, [ask, so_far = std::move(so_far), done](expected<presence::page<T>> page) mutable {
        if (!page) {
            return done(page.get_error());
        }
        for (auto& entry : page->entries) {
            if (so_far.size() < max_listed) {
                so_far.push_back(std::move(entry));
            }
        }
        if (page->next.empty() || so_far.size() >= max_listed) {
            return done(std::move(so_far));
        }
        collect<T>(ask, std::move(page->next), std::move(so_far), std::move(done));
    });
}

}  // namespace

bool chat_group_policy::allows(const hub_context& caller, std::string_view group) const {
    const auto matches = [&](std::string_view pattern) {
        // An anonymous caller has no user id: "{user}" patterns must not match "dm--*" for it.
        if (caller.user_id().empty() && pattern.find("{user}") != std::string_view::npos) {
            return false;
        }
        return auth::glob_match(for_user(pattern, caller.user_id()), group);
    };
    switch (kind) {
    case mode::open:
        return true;
    case mode::patterns:
        return std::any_of(patterns.begin(), patterns.end(), matches);
    case mode::roles: {
        constexpr std::string_view prefix = "group:";
        const auto* who = caller.identity();
        return who != nullptr &&
               std::any_of(who->roles.begin(), who->roles.end(), [&](std::string_view role) {
                   return role.starts_with(prefix) && matches(role.substr(prefix.size()));
               });
    }
    }
    return false;
}

expected<chat_group_policy> make_chat_group_policy(std::string_view mode,
                                                   std::vector<std::string> patterns) {
    chat_group_policy policy;
    if (mode == "open") {
        policy.kind = chat_group_policy::mode::open;
    } else if (mode == "patterns") {
        policy.kind = chat_group_policy::mode::patterns;
        if (patterns.empty()) {
            return make_error("the patterns group policy needs at least one group pattern");
        }
    } else if (mode == "roles") {
        policy.kind = chat_group_policy::mode::roles;
    } else {
        return make_error("unknown group policy '" + std::string(mode) +
                          "' (expected open, patterns or roles)");
    }
    if (policy.kind != chat_group_policy::mode::patterns && !patterns.empty()) {
        return make_error("group patterns apply to the patterns group policy only");
    }
    policy.patterns = std::move(patterns);
    return policy;
}

std::shared_ptr<hub_definition> make_chat_hub(chat_hub_options options) {
    auto hub = std::make_shared<hub_definition>("chat");
    const auto check_message =
        [limit = options.max_message_length](const std::string& message) -> hub_result<> {
        if (message.size() > limit) {
            return hub_error("Message exceeds " + std::to_string(limit) + " bytes.");
        }
        return {};
    };

    const bool presence = options.presence_events;
    if (presence) {
        // Once per user cluster-wide, however many tabs and instances (presence_store.hpp);
        // to everyone but the connection that made it, as UserConnected.
        hub->on_presence_change(
            [](const hub_clients& clients, const presence::user_change& change) {
                auto audience = change.connection_id.empty()
                                    ? clients.all()
                                    : clients.all_except({change.connection_id});
                audience.send(change.online ? "UserOnline" : "UserOffline", change.user_id);
            });
        hub->on_connected([](hub_context& context) {
            context.others().send("UserConnected", display_name(context), context.connection_id());
        });
        hub->on_disconnected([](hub_context& context) {
            context.others().send("UserDisconnected", display_name(context),
                                  context.connection_id());
        });
    }

    hub->method("SendMessage",
                [check_message](hub_context& context, std::string message) -> hub_result<> {
                    if (auto ok = check_message(message); !ok) {
                        return ok;
                    }
                    context.all().send("ReceiveMessage", display_name(context), message);
                    return {};
                });

    // The sender's own connections get the message too, so its other tabs show it.
    hub->method(
        "SendToUser",
        [check_message](hub_context& context, std::string user,
                        std::string message) -> hub_result<> {
            if (user.empty()) {
                return hub_error("User id must not be empty.");
            }
            if (auto ok = check_message(message); !ok) {
                return ok;
            }
            if (context.user_id().empty()) {
                context.user(user).send("ReceiveDirectMessage", display_name(context), message);
                context.caller().send("ReceiveDirectMessage", display_name(context), message);
            } else {
                context.users({user, context.user_id()})
                    .send("ReceiveDirectMessage", display_name(context), message);
            }
            return {};
        });

    // Completes once the membership is in effect on every instance: a message sent to the
    // group from anywhere right after JoinGroup returned reaches the new member.
    const auto check_access = [groups = std::move(options.groups)](
                                  const hub_context& context, const std::string& group,
                                  std::string_view action) -> hub_result<> {
        if (auto ok = check_group(group); !ok) {
            return ok;
        }
        if (!groups.allows(context, group)) {
            return hub_error("Not allowed to " + std::string(action) + " group '" + group + "'.");
        }
        return {};
    };

    hub->method("JoinGroup",
                [check_access, presence](hub_context& context, std::string group,
                                         reply<> answer) -> hub_result<> {
                    if (auto ok = check_access(context, group, "join"); !ok) {
                        return ok;
                    }
                    hub_clients clients = context;
                    context.add_to_group(context.connection_id(), group,
                                         [clients, name = display_name(context), group, answer,
                                          presence](const expected<void>& joined) mutable {
                                             if (!joined) {
                                                 return answer.fail(joined.get_error());
                                             }
                                             if (presence) {
                                                 clients.group(group).send("UserJoinedGroup", name,
                                                                           group);
                                             }
                                             answer.ok();
                                         });
                    return {};
                });

    // The leaver is told too, after it stopped being a member.
    hub->method("LeaveGroup", [presence](hub_context& context, std::string group) -> hub_result<> {
        if (auto ok = check_group(group); !ok) {
            return ok;
        }
        context.remove_from_group(context.connection_id(), group);
        if (presence) {
            context.group(group).send("UserLeftGroup", display_name(context), group);
            context.caller().send("UserLeftGroup", display_name(context), group);
        }
        return {};
    });

    // Users online on any instance, sorted (at most max_listed).
    hub->method("GetOnlineUsers",
                [](hub_context& context, reply<std::vector<std::string>> answer) -> hub_result<> {
                    hub_clients clients = context;
                    collect<std::string>(
                        [clients](const std::string& cursor, auto done) {
                            clients.online_users(cursor, 200, std::move(done));
                        },
                        {}, {},
                        [answer](expected<std::vector<std::string>> users) mutable {
                            if (!users) {
                                return answer.fail(users.get_error());
                            }
                            std::sort(users->begin(), users->end());
                            answer.ok(std::move(*users));
                        });
                    return {};
                });

    // A group's members on any instance: [{"connectionId", "userId"}], for callers the group
    // policy lets send to the group.
    hub->method(
        "GetGroupMembers",
        [check_access](hub_context& context, std::string group,
                       reply<boost::json::array> answer) -> hub_result<> {
            if (auto ok = check_access(context, group, "list"); !ok) {
                return ok;
            }
            hub_clients clients = context;
            collect<presence::connection_entry>(
                [clients, group](const std::string& cursor, auto done) {
                    clients.group_members(group, cursor, 200, std::move(done));
                },
                {}, {},
                [answer](expected<std::vector<presence::connection_entry>> members) mutable {
                    if (!members) {
                        return answer.fail(members.get_error());
                    }
                    boost::json::array list;
                    for (const auto& member : *members) {
                        list.push_back(boost::json::object{{"connectionId", member.connection_id},
                                                           {"userId", member.user_id}});
                    }
                    answer.ok(std::move(list));
                });
            return {};
        });

    hub->method("SendToGroup",
                [check_message, check_access](hub_context& context, std::string group,
                                              std::string message) -> hub_result<> {
                    if (auto ok = check_access(context, group, "send to"); !ok) {
                        return ok;
                    }
                    if (auto ok = check_message(message); !ok) {
                        return ok;
                    }
                    context.group(group).send("ReceiveGroupMessage", group, display_name(context),
                                              message);
                    return {};
                });
    // A stream to try streaming with, through proxies and load balancers (the ASP.NET samples'
    // Counter): 0, 1, ..., count - 1, then the end.
    hub->method("Counter", [](hub_context&, int count, stream_writer out) -> hub_result<> {
        // Enough to see a stream flow; a bound so one call cannot fill the queue.
        constexpr int max_count = 10'000;
        if (count < 0 || count > max_count) {
            return hub_error("Count must be between 0 and " + std::to_string(max_count) + ".");
        }
        for (int i = 0; i < count && out.write(i); ++i) {
        }
        out.complete();
        return {};
    });
    return hub;
}

}  // namespace switchboard::hub
