#include "hub/calls_hub.hpp"

#include "core/random.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace switchboard::hub {

namespace {

namespace json = boost::json;

// Index updates retry compare-and-set this often before giving up (two parties' instances
// racing on one user's list is the most that happens).
constexpr int max_attempts = 8;

struct session {
    std::string call_id;
    std::string initiator;
    std::string recipient;
    std::string status;  // "ringing" | "active"
    std::int64_t started_at_ms = 0;

    [[nodiscard]] bool party(const std::string& user) const {
        return user == initiator || user == recipient;
    }
    [[nodiscard]] const std::string& other(const std::string& user) const {
        return user == initiator ? recipient : initiator;
    }
    [[nodiscard]] std::string to_json() const {
        return json::serialize(json::object{{"callId", call_id},
                                            {"initiatorId", initiator},
                                            {"recipientId", recipient},
                                            {"status", status},
                                            {"startedAt", started_at_ms}});
    }
    [[nodiscard]] json::object to_object() const { return json::parse(to_json()).as_object(); }
    static std::optional<session> from_json(const std::string& text) {
        json::error_code ec;
        const auto value = json::parse(text, ec);
        const auto* object = ec ? nullptr : value.if_object();
        if (object == nullptr) {
            return std::nullopt;
        }
        const auto text_of = [&](std::string_view key) -> std::string {
            const auto* field = object->if_contains(key);
            return field != nullptr && field->is_string() ? std::string(field->get_string())
                                                          : std::string();
        };
        session s{text_of("callId"), text_of("initiatorId"), text_of("recipientId"),
                  text_of("status"), 0};
        if (const auto* started = object->if_contains("startedAt");
            started != nullptr && started->is_int64()) {
            s.started_at_ms = started->get_int64();
        }
        if (s.call_id.empty() || s.initiator.empty() || s.recipient.empty()) {
            return std::nullopt;
        }
        return s;
    }
};

std::string session_key(const std::string& call_id) {
    return "calls:session:" + call_id;
}
std::string index_key(const std::string& user) {
    return "calls:user:" + user;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

hub_result<> require_user(const hub_context& context) {
    if (context.user_id().empty()) {
        return hub_error("Calls need a signed-in user.");
    }
    return {};
}

// Adds or removes `call_id` in `user`'s list of calls (a JSON array), by compare-and-set.
void edit_index(hub_clients clients, std::string user, std::string call_id, bool add,
                std::chrono::milliseconds ttl, int attempt = 0) {
    clients.state_get(index_key(user), [=](expected<std::optional<std::string>> current) {
        if (!current || attempt >= max_attempts) {
            return;  // the session's TTL still bounds what is left behind
        }
        json::array ids;
        if (*current) {
            json::error_code ec;
            auto parsed = json::parse(**current, ec);
            if (!ec && parsed.is_array()) {
                ids = std::move(parsed.as_array());
            }
        }
        ids.erase(std::remove(ids.begin(), ids.end(), json::value(call_id)), ids.end());
        if (add) {
            ids.emplace_back(call_id);
        }
        clients.state_compare_and_set(
            index_key(user), *current, json::serialize(ids), ttl, [=](expected<bool> set) {
                if (set && !*set) {
                    edit_index(clients, user, call_id, add, ttl, attempt + 1);
                }
            });
    });
}

// Loads a session the caller (a signed-in user) is a party to; `then` gets it with its stored
// text (for compare-and-set), or the answer fails with the reason.
template <class Reply, class Then>
hub_result<> with_session(const hub_context& context, const std::string& call_id, Reply answer,
                          Then then) {
    if (auto ok = require_user(context); !ok) {
        return ok;
    }
    const hub_clients clients = context;
    clients.state_get(
        session_key(call_id),
        [=, caller = context.user_id()](expected<std::optional<std::string>> stored) mutable {
            if (!stored) {
                return answer.fail(stored.get_error());
            }
            const auto found = *stored ? session::from_json(**stored) : std::nullopt;
            // A call that does not exist and one the caller is no party to look the same: no one
            // learns which call ids are live.
            if (!found || !found->party(caller)) {
                return answer.fail(make_error("No such call."));
            }
            then(*found, **stored, caller, answer);
        });
    return {};
}

// Removes a session and tells both parties; `why` is "ended", "rejected" or "disconnected".
void finish(hub_clients clients, const session& call, const std::string& by, const std::string& why,
            std::chrono::milliseconds ttl) {
    clients.state_erase(session_key(call.call_id));
    edit_index(clients, call.initiator, call.call_id, false, ttl);
    edit_index(clients, call.recipient, call.call_id, false, ttl);
    clients.users({call.initiator, call.recipient}).send("CallEnded", call.call_id, by, why);
}

}  // namespace

std::shared_ptr<hub_definition> make_calls_hub(calls_hub_options options) {
    auto hub = std::make_shared<hub_definition>("calls");
    const auto ttl = options.session_ttl;

    hub->method(
        "InitiateCall",
        [ttl](hub_context& context, std::string recipient,
              reply<std::string> answer) -> hub_result<> {
            if (auto ok = require_user(context); !ok) {
                return ok;
            }
            if (recipient.empty() || recipient == context.user_id()) {
                return hub_error("Call someone else.");
            }
            const hub_clients clients = context;
            const auto initiator = context.user_id();
            clients.is_online(recipient, [=](expected<bool> online) mutable {
                if (!online) {
                    return answer.fail(online.get_error());
                }
                if (!*online) {
                    return answer.fail(make_error("User '" + recipient + "' is not online."));
                }
                const session call{make_random_id(), initiator, recipient, "ringing", now_ms()};
                clients.state_compare_and_set(
                    session_key(call.call_id), std::nullopt, call.to_json(), ttl,
                    [=](expected<bool> created) mutable {
                        if (!created || !*created) {
                            return answer.fail(created ? make_error("Could not create the call.")
                                                       : created.get_error());
                        }
                        edit_index(clients, initiator, call.call_id, true, ttl);
                        edit_index(clients, recipient, call.call_id, true, ttl);
                        clients.user(recipient).send("IncomingCall", call.call_id, initiator);
                        answer.ok(call.call_id);
                    });
            });
            return {};
        });

    hub->method(
        "AcceptCall",
        [ttl](hub_context& context, std::string call_id, reply<> answer) -> hub_result<> {
            const hub_clients clients = context;
            return with_session(
                context, call_id, answer,
                [clients, ttl](session call, const std::string& stored, const std::string& caller,
                               reply<> answer) mutable {
                    if (caller != call.recipient) {
                        return answer.fail(make_error("Only the recipient accepts a call."));
                    }
                    if (call.status != "ringing") {
                        return answer.fail(make_error("The call is not ringing."));
                    }
                    call.status = "active";
                    clients.state_compare_and_set(
                        session_key(call.call_id), stored, call.to_json(), ttl,
                        [=](expected<bool> set) mutable {
                            if (!set || !*set) {
                                return answer.fail(set ? make_error("The call changed meanwhile.")
                                                       : set.get_error());
                            }
                            // Both users: the recipient's other tabs stop ringing.
                            clients.users({call.initiator, call.recipient})
                                .send("CallAccepted", call.call_id, caller);
                            answer.ok();
                        });
                });
        });

    hub->method("RejectCall",
                [ttl](hub_context& context, std::string call_id, reply<> answer) -> hub_result<> {
                    const hub_clients clients = context;
                    return with_session(
                        context, call_id, answer,
                        [clients, ttl](const session& call, const std::string&,
                                       const std::string& caller, reply<> answer) mutable {
                            if (caller != call.recipient || call.status != "ringing") {
                                return answer.fail(
                                    make_error("Only the recipient rejects a ringing call."));
                            }
                            finish(clients, call, caller, "rejected", ttl);
                            answer.ok();
                        });
                });

    hub->method("EndCall",
                [ttl](hub_context& context, std::string call_id, reply<> answer) -> hub_result<> {
                    const hub_clients clients = context;
                    return with_session(
                        context, call_id, answer,
                        [clients, ttl](const session& call, const std::string&,
                                       const std::string& caller, reply<> answer) mutable {
                            finish(clients, call, caller, "ended", ttl);
                            answer.ok();
                        });
                });

    // Offers, answers and ICE candidates, relayed to the other party's connections only.
    hub->method("SendSignal",
                [](hub_context& context, std::string call_id, json::value payload,
                   reply<> answer) -> hub_result<> {
                    const hub_clients clients = context;
                    return with_session(
                        context, call_id, answer,
                        [clients, payload](const session& call, const std::string&,
                                           const std::string& caller, reply<> answer) mutable {
                            clients.user(call.other(caller))
                                .send("ReceiveSignal", call.call_id, caller, payload);
                            answer.ok();
                        });
                });

    // The session, for a page that reloads mid-call.
    hub->method(
        "GetCall",
        [](hub_context& context, std::string call_id, reply<json::object> answer) -> hub_result<> {
            return with_session(
                context, call_id, answer,
                [](const session& call, const std::string&, const std::string&,
                   reply<json::object> answer) mutable { answer.ok(call.to_object()); });
        });

    // A party gone from every instance for the grace period ends its calls. The instance that
    // saw the user go offline (once cluster-wide) waits and checks again.
    hub->on_presence_change([options](const hub_clients& clients,
                                      const presence::user_change& change) {
        if (change.online) {
            return;
        }
        auto timer =
            std::make_shared<boost::asio::steady_timer>(clients.shard_executor(), options.grace);
        timer->async_wait([timer, clients, user = change.user_id,
                           ttl = options.session_ttl](boost::system::error_code ec) {
            if (ec) {
                return;
            }
            clients.is_online(user, [=](expected<bool> online) {
                if (!online || *online) {
                    return;
                }
                clients.state_get(index_key(user), [=](expected<std::optional<std::string>> ids) {
                    if (!ids || !*ids) {
                        return;
                    }
                    json::error_code parse_error;
                    const auto list = json::parse(**ids, parse_error);
                    if (parse_error || !list.is_array()) {
                        return;
                    }
                    for (const auto& id : list.as_array()) {
                        if (!id.is_string()) {
                            continue;
                        }
                        clients.state_get(session_key(std::string(id.get_string())),
                                          [=](expected<std::optional<std::string>> stored) {
                                              const auto call = stored && *stored
                                                                    ? session::from_json(**stored)
                                                                    : std::nullopt;
                                              if (call) {
                                                  finish(clients, *call, user, "disconnected", ttl);
                                              }
                                          });
                    }
                });
            });
        });
    });
    return hub;
}

}  // namespace switchboard::hub
