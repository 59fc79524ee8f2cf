// The router's backplane half: what it publishes for other instances and what it does with
// their publications, in the ASP.NET Core Redis backplane format (backplanes.md §2-3).
#include "routing/router.hpp"

#include "core/random.hpp"
#include "protocol/binary_framing.hpp"
#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"
#include "routing/scaleout/messages.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <limits>

namespace switchboard::routing {

namespace {

// A CompletionMessage framed in `protocol_name`, as the return channel carries it (§2.4).
expected<protocol::completion_message> parse_framed_completion(std::string_view protocol_name,
                                                               std::string_view bytes) {
    expected<protocol::hub_message> message = make_error("");
    if (protocol_name == scaleout::json_protocol_name) {
        if (bytes.empty() || bytes.back() != '\x1e') {
            return make_error("JSON completion without its record separator");
        }
        bytes.remove_suffix(1);
        message = protocol::parse_json_message(bytes);
    } else if (protocol_name == scaleout::messagepack_protocol_name) {
        protocol::binary_frame_reader reader(bytes.size());
        reader.append(bytes);
        std::string_view body;
        if (reader.next(body) != protocol::binary_frame_reader::status::record) {
            return make_error("MessagePack completion with a broken length prefix");
        }
        message = protocol::parse_messagepack_message(body);
    } else {
        return make_error("completion in unknown protocol '" + std::string(protocol_name) + "'");
    }
    if (!message) {
        return message.get_error();
    }
    auto* completion = std::get_if<protocol::completion_message>(&*message);
    if (completion == nullptr) {
        return make_error("return channel message is not a Completion");
    }
    return std::move(*completion);
}

}  // namespace

void router::start() {
    for (const auto& hub : hubs_) {
        const auto& channels = hub.channels;
        subscribe(channels.all());
        subscribe(channels.internal_groups());
        subscribe(channels.internal_ack(options_.server_name));
        subscribe(channels.internal_return(options_.server_name));
    }
    bus_.start(*this);
}

void router::stop() {
    bus_.stop();
    const auto fail_all = [](auto& table, const char* why) {
        for (auto& [key, request] : std::exchange(table, {})) {
            request.timer->cancel();
            request.on_answer(make_error(why));
        }
    };
    fail_all(pending_acks_, "The server is shutting down.");
    fail_all(pending_results_, "The server is shutting down.");
}

void router::publish(hub_id hub, const audience& to, const serialized_message& message) {
    if (!bus_.shared()) {
        return;
    }
    const auto& channels = hubs_[hub].channels;
    std::vector<std::string> targets;
    switch (to.target) {
    case audience::kind::all:
        targets.push_back(channels.all());
        break;
    case audience::kind::groups:
    case audience::kind::users:
        for (const auto& name : to.names) {
            // ASP.NET skips empty names too: nobody can be in group "" or be user "".
            if (!name.empty()) {
                targets.push_back(to.target == audience::kind::groups ? channels.group(name)
                                                                      : channels.user(name));
            }
        }
        // A name given twice is one channel: two publications would reach its members twice.
        std::sort(targets.begin(), targets.end());
        targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
        break;
    case audience::kind::connections:
        break;  // send_to_connections() publishes only the ids no shard holds
    }
    publish_to(targets, to, message);
}

void router::publish_to(const std::vector<std::string>& channels, const audience& to,
                        const serialized_message& message) {
    if (channels.empty()) {
        return;
    }
    // One payload for every channel: each Redis PUBLISH refers to the same bytes.
    const auto payload = make_shared_buffer(scaleout::encode_invocation(message, to.excluded));
    for (const auto& channel : channels) {
        bus_.publish(channel, payload);
    }
}

template <class Key>
void router::await_answer(std::unordered_map<Key, pending_request>& table, const Key& key,
                          std::chrono::milliseconds timeout, std::string timeout_error,
                          std::function<void(expected<boost::json::value>)> on_answer) {
    auto timer = std::make_unique<boost::asio::steady_timer>(pool_.context(control_shard), timeout);
    timer->async_wait([this, &table, key,
                       timeout_error = std::move(timeout_error)](boost::system::error_code ec) {
        const auto it = table.find(key);
        if (ec || it == table.end()) {
            return;
        }
        auto on_timeout = std::move(it->second.on_answer);
        table.erase(it);
        on_timeout(make_error(timeout_error));
    });
    table.insert_or_assign(key, pending_request{std::move(timer), std::move(on_answer)});
}

namespace {

template <class Table, class Key>
void answer(Table& table, const Key& key, expected<boost::json::value> value) {
    const auto it = table.find(key);
    if (it == table.end()) {
        return;  // timed out already, or a duplicate
    }
    auto on_answer = std::move(it->second.on_answer);
    it->second.timer->cancel();
    table.erase(it);
    on_answer(std::move(value));
}

}  // namespace

void router::send_group_command(hub_id hub, const std::string& connection_id,
                                const std::string& group, bool join, done_callback done) {
    // Ids only need to be unique per server name (§3.4); they wrap after 2^31 changes.
    last_ack_id_ = last_ack_id_ == std::numeric_limits<std::int32_t>::max() ? 1 : last_ack_id_ + 1;
    const auto id = last_ack_id_;
    await_answer(pending_acks_, id, options_.group_ack_timeout,
                 "No server acknowledged the group change for connection '" + connection_id +
                     "' (it does not exist, or its server is unreachable).",
                 [done = std::move(done)](expected<boost::json::value> acked) {
                     done(acked ? expected<void>() : expected<void>(acked.get_error()));
                 });
    scaleout::group_command command{
        id, options_.server_name,
        join ? scaleout::group_action::add : scaleout::group_action::remove, group, connection_id};
    bus_.publish(hubs_[hub].channels.internal_groups(),
                 make_shared_buffer(scaleout::encode_group_command(command)));
}

void router::request_remote_result(hub_id hub, const std::string& connection_id,
                                   const message_ptr& message, std::chrono::milliseconds timeout,
                                   result_callback reply) {
    // Random, so unique across servers: the id is all the owner and the origin share (§3.7).
    auto id = make_random_id();
    const serialized_message request(message->target(), message->arguments(), id);
    const auto& channels = hubs_[hub].channels;
    scaleout::invocation invocation;
    invocation.payloads = {
        {std::string(scaleout::json_protocol_name), request.encoded(wire_protocol::json)},
        {std::string(scaleout::messagepack_protocol_name),
         request.encoded(wire_protocol::messagepack)}};
    invocation.invocation_id = id;
    invocation.return_channel = channels.return_address(options_.server_name);
    await_answer(pending_results_, id, timeout, "Timed out waiting for the client's result.",
                 std::move(reply));
    bus_.publish(channels.connection(connection_id),
                 make_shared_buffer(scaleout::encode_invocation(invocation)));
}

void router::on_backplane_message(std::string_view channel, const shared_buffer& payload) {
    for (const auto& listener : listeners_) {
        if (channel.starts_with(listener.prefix)) {
            return listener.handler->on_backplane_message(channel, payload);
        }
    }
    for (hub_id hub = 0; hub < hubs_.size(); ++hub) {
        const auto parsed = hubs_[hub].channels.parse(channel);
        if (!parsed) {
            continue;
        }
        switch (parsed->kind) {
        case scaleout::channel_kind::all:
        case scaleout::channel_kind::connection:
        case scaleout::channel_kind::user:
        case scaleout::channel_kind::group:
            return on_invocation(hub, *parsed, payload);
        case scaleout::channel_kind::internal_groups:
            return on_group_command(hub, payload);
        case scaleout::channel_kind::internal_ack:
            return on_ack(payload);
        case scaleout::channel_kind::internal_return:
            return on_return(payload);
        }
    }
    spdlog::debug("backplane: ignoring a message on unknown channel '{}'", channel);
}

void router::drop_malformed(std::string_view what, std::string_view why) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    ++malformed_since_log_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_malformed_log_ >= std::chrono::seconds(1)) {
        spdlog::warn("backplane: dropped {} malformed message(s) (total {}); the last, a {}: {}",
                     malformed_since_log_, malformed_.load(std::memory_order_relaxed), what, why);
        malformed_since_log_ = 0;
        last_malformed_log_ = now;
    }
}

void router::on_invocation(hub_id hub, const scaleout::parsed_channel& channel,
                           const shared_buffer& payload) {
    auto decoded = scaleout::decode_invocation(*payload);
    if (!decoded) {
        return drop_malformed("invocation on hub '" + hubs_[hub].name + "'",
                              decoded.error_message());
    }
    serialized_message::encodings framed;
    for (const auto protocol : {wire_protocol::json, wire_protocol::messagepack}) {
        if (const auto* bytes = decoded->payload(protocol)) {
            framed[static_cast<std::size_t>(protocol)] = *bytes;
        }
    }
    const bool wants_result = channel.kind == scaleout::channel_kind::connection &&
                              decoded->invocation_id && !decoded->invocation_id->empty() &&
                              decoded->return_channel;
    auto message = std::make_shared<const serialized_message>(
        std::move(framed), wants_result ? *decoded->invocation_id : std::string());
    audience to;
    to.excluded = std::move(decoded->excluded_connection_ids);
    switch (channel.kind) {
    case scaleout::channel_kind::connection:
        to.target = audience::kind::connections;
        break;
    case scaleout::channel_kind::user:
        to.target = audience::kind::users;
        break;
    case scaleout::channel_kind::group:
        to.target = audience::kind::groups;
        break;
    default:
        to.target = audience::kind::all;
        break;
    }
    if (to.target != audience::kind::all) {
        to.names.emplace_back(channel.id);
    }
    if (!wants_result) {
        return deliver_local(hub, std::move(to), message);
    }
    // A client-result request from another server: the client's answer goes back on the
    // return channel, serialized as JSON, which every ASP.NET server reads (§3.7).
    auto return_channel = hubs_[hub].channels.with_prefix(*decoded->return_channel);
    const std::string connection_id(channel.id);
    on_connection_shard(
        hub, connection_id,
        [this, hub, connection_id, message,
         return_channel = std::move(return_channel)](std::size_t shard) {
            auto& connections = shards_[shard].hubs[hub].connections;
            const auto it = connections.find(connection_id);
            if (it == connections.end()) {
                return;
            }
            const auto& id = message->invocation_id();
            it->second.target->invoke(
                message, options_.remote_result_timeout,
                [this, id, return_channel](expected<boost::json::value> result) {
                    const auto completion =
                        result
                            ? protocol::completion_message::with_result(id, std::move(*result))
                            : protocol::completion_message::with_error(id, result.error_message());
                    std::string bytes;
                    protocol::write_json_message(completion, bytes);
                    bus_.publish(return_channel, make_shared_buffer(scaleout::encode_completion(
                                                     scaleout::json_protocol_name, bytes)));
                });
        });
}

void router::on_group_command(hub_id hub, const shared_buffer& payload) {
    auto decoded = scaleout::decode_group_command(*payload);
    if (!decoded) {
        return drop_malformed("group command", decoded.error_message());
    }
    // Only the owner acks (§3.4); the others stay silent, so the requester's timeout is the
    // only answer for a connection nobody holds.
    auto command = std::make_shared<const scaleout::group_command>(std::move(*decoded));
    on_connection_shard(hub, command->connection_id, [this, hub, command](std::size_t shard) {
        const bool join = command->action == scaleout::group_action::add;
        if (change_group_on(shard, hub, command->connection_id, command->group_name, join) ==
            group_change::applied) {
            when_in_effect(hub, command->group_name, join, [this, hub, command] {
                bus_.publish(hubs_[hub].channels.internal_ack(command->server_name),
                             make_shared_buffer(scaleout::encode_ack(command->id)));
            });
        }
    });
}

void router::on_ack(const shared_buffer& payload) {
    const auto id = scaleout::decode_ack(*payload);
    if (!id) {
        return drop_malformed("ack", id.error_message());
    }
    answer(pending_acks_, *id, boost::json::value(nullptr));
}

void router::on_return(const shared_buffer& payload) {
    auto decoded = scaleout::decode_completion(*payload);
    auto completion = decoded ? parse_framed_completion(decoded->protocol, *decoded->bytes)
                              : expected<protocol::completion_message>(decoded.get_error());
    if (!completion) {
        return drop_malformed("client result", completion.error_message());
    }
    if (completion->error) {
        return answer(pending_results_, completion->invocation_id,
                      make_error(std::move(*completion->error)));
    }
    answer(pending_results_, completion->invocation_id,
           completion->result ? std::move(*completion->result) : boost::json::value(nullptr));
}

}  // namespace switchboard::routing
