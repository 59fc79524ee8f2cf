#include "hub/chat_hub.hpp"

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

}  // namespace

std::shared_ptr<hub_definition> make_chat_hub(chat_hub_options options) {
    auto hub = std::make_shared<hub_definition>("chat");
    const auto check_message =
        [limit = options.max_message_length](const std::string& message) -> hub_result<> {
        if (message.size() > limit) {
            return hub_error("Message exceeds " + std::to_string(limit) + " bytes.");
        }
        return {};
    };

    hub->on_connected([](hub_context& context) {
        context.others().send("UserConnected", display_name(context), context.connection_id());
    });
    hub->on_disconnected([](hub_context& context) {
        context.others().send("UserDisconnected", display_name(context), context.connection_id());
    });

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
    hub->method(
        "JoinGroup", [](hub_context& context, std::string group, reply<> answer) -> hub_result<> {
            if (auto ok = check_group(group); !ok) {
                return ok;
            }
            hub_clients clients = context;
            context.add_to_group(context.connection_id(), group,
                                 [clients, name = display_name(context), group,
                                  answer](const expected<void>& joined) mutable {
                                     if (!joined) {
                                         return answer.fail(joined.get_error());
                                     }
                                     clients.group(group).send("UserJoinedGroup", name, group);
                                     answer.ok();
                                 });
            return {};
        });

    // The leaver is told too, after it stopped being a member.
    hub->method("LeaveGroup", [](hub_context& context, std::string group) -> hub_result<> {
        if (auto ok = check_group(group); !ok) {
            return ok;
        }
        context.remove_from_group(context.connection_id(), group);
        context.group(group).send("UserLeftGroup", display_name(context), group);
        context.caller().send("UserLeftGroup", display_name(context), group);
        return {};
    });

    hub->method("SendToGroup",
                [check_message](hub_context& context, std::string group,
                                std::string message) -> hub_result<> {
                    if (auto ok = check_group(group); !ok) {
                        return ok;
                    }
                    if (auto ok = check_message(message); !ok) {
                        return ok;
                    }
                    context.group(group).send("ReceiveGroupMessage", group, display_name(context),
                                              message);
                    return {};
                });
    return hub;
}

}  // namespace switchboard::hub
