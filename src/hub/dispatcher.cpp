#include "hub/dispatcher.hpp"

#include "hub/guard.hpp"
#include "hub/hub_connection.hpp"

#include <algorithm>
#include <utility>

namespace switchboard::hub {

std::string dispatcher::invocation_error(const std::string& method, const error& failure) const {
    std::string text = "An unexpected error occurred invoking '" + method + "' on the server.";
    if (failure.type.empty()) {
        text += " HubException: " + failure.message;
    } else if (connection_.options().detailed_errors) {
        text += ' ';
        text += failure.type;
        text += ": ";
        text += failure.message;
    }
    return text;
}

void dispatcher::on_invocation(std::optional<std::string> invocation_id, std::string_view target,
                               const boost::json::array& arguments,
                               const std::vector<std::string>& stream_ids, bool streaming) {
    const auto fail = [&](std::string error) {
        if (invocation_id) {
            send_completion(
                protocol::completion_message::with_error(*invocation_id, std::move(error)));
        }
    };
    const auto* method = connection_.definition().find_method(target);
    if (method == nullptr) {
        return fail("Unknown hub method '" + std::string(target) + "'");
    }
    if (!method->policy.allows(connection_.identity())) {
        return fail("Failed to invoke '" + method->name + "' because user is unauthorized");
    }
    const auto& signature = method->signature;
    if (signature.streaming != streaming) {
        return fail("The client attempted to invoke the " +
                    std::string(signature.streaming ? "streaming" : "non-streaming") + " '" +
                    method->name + "' method with a " +
                    (streaming ? "streaming" : "non-streaming") + " invocation.");
    }
    if (stream_ids.size() != signature.uploads) {
        return fail(invocation_error(method->name,
                                     make_error("Client sent " + std::to_string(stream_ids.size()) +
                                                " stream(s), Hub method expects " +
                                                std::to_string(signature.uploads) + ".")));
    }
    if (streaming && streams_.contains(*invocation_id)) {
        return fail("Invocation ID '" + *invocation_id + "' is already in use.");
    }
    // An upload id names one open stream: a second would orphan the first invocation's upload.
    for (auto id = stream_ids.begin(); id != stream_ids.end(); ++id) {
        if (uploads_.contains(*id) || std::find(stream_ids.begin(), id, *id) != id) {
            return fail("Stream ID '" + *id + "' is already in use.");
        }
    }

    invocation_resources resources;
    for (const auto& id : stream_ids) {
        auto upload = std::make_shared<detail::upload_state>();
        uploads_[id] = upload;
        resources.uploads.push_back(std::move(upload));
    }
    if (streaming) {
        resources.stream = std::make_shared<detail::server_stream_state>();
        resources.stream->connection = connection_.weak_from_this();
        resources.stream->invocation_id = *invocation_id;
        resources.stream->method = method->name;
        streams_[*invocation_id] = resources.stream;
    }
    if (signature.deferred) {
        resources.reply = std::make_shared<detail::reply_state>();
        resources.reply->connection = connection_.weak_from_this();
        resources.reply->invocation_id = invocation_id;
        resources.reply->method = method->name;
        resources.reply->upload_ids = stream_ids;
    }
    for (const auto& upload : resources.uploads) {
        upload->connection = connection_.weak_from_this();
        upload->method = method->name;
        upload->reply = resources.reply;
    }

    auto context = connection_.make_context();
    invocation_outcome outcome;
    if (auto failure =
            call_user([&] { outcome = method->invoke(context, arguments, resources); })) {
        connection_.report_user_error(metric_hub_error::method, method->name, *failure);
        if (resources.stream) {
            // The method is the stream's producer: its stream ends as a failed enumeration
            // does in ASP.NET (nothing is sent if it completed the stream before throwing).
            resources.stream->finish(std::move(*failure));
            close_uploads(stream_ids);
            return;
        }
        // A reply given before the throw stands; otherwise the throw is the answer.
        const bool answered = resources.reply && resources.reply->done;
        if (resources.reply) {
            resources.reply->done = true;
        }
        close_uploads(stream_ids);
        if (!answered) {
            fail(invocation_error(method->name, *failure));
        }
        return;
    }
    switch (outcome.result_status) {
    case invocation_outcome::status::pending:
        return;  // the reply handle answers later
    case invocation_outcome::status::ok:
        if (streaming) {
            return;  // the stream_writer handle completes the stream
        }
        close_uploads(stream_ids);
        if (invocation_id) {
            send_completion(protocol::completion_message::with_result(*invocation_id,
                                                                      std::move(outcome.result)));
        }
        return;
    case invocation_outcome::status::binding_error: {
        std::string error =
            "Failed to invoke '" + method->name + "' due to an error on the server.";
        if (connection_.options().detailed_errors) {
            error += " InvalidDataException: " + outcome.failure.message;
        }
        close_uploads(stream_ids);
        return fail(std::move(error));
    }
    case invocation_outcome::status::hub_error:
        // The method refused before streaming or replying: its handles must stay silent.
        if (resources.stream) {
            resources.stream->finished = true;
            streams_.erase(*invocation_id);
        }
        if (resources.reply) {
            resources.reply->done = true;
        }
        close_uploads(stream_ids);
        return fail(invocation_error(method->name, outcome.failure));
    }
}

void dispatcher::on_stream_item(protocol::stream_item_message&& item) {
    const auto it = uploads_.find(item.invocation_id);
    if (it != uploads_.end()) {
        it->second->push(std::move(item.item));
    }
    // Items for unknown stream ids are ignored, as ASP.NET does.
}

void dispatcher::on_completion(protocol::completion_message&& completion) {
    if (const auto upload = uploads_.find(completion.invocation_id); upload != uploads_.end()) {
        auto state = std::move(upload->second);
        uploads_.erase(upload);
        return state->end(std::move(completion.error));
    }
    const auto pending = pending_results_.find(completion.invocation_id);
    if (pending == pending_results_.end()) {
        return;  // neither an upload nor a client result we wait for: ignored
    }
    auto on_result = std::move(pending->second.on_result);
    pending_results_.erase(pending);
    if (completion.error) {
        return on_result(make_error(std::move(*completion.error)));
    }
    on_result(completion.result ? std::move(*completion.result) : boost::json::value(nullptr));
}

void dispatcher::on_cancel(const std::string& invocation_id) {
    const auto it = streams_.find(invocation_id);
    if (it == streams_.end()) {
        return;  // unknown or already finished: nothing to cancel
    }
    if (auto stream = it->second.lock()) {
        auto failure = stream->cancel();
        if (failure) {
            connection_.report_user_error(metric_hub_error::stream, stream->method, *failure);
        }
        stream->finish(std::move(failure));
    } else {
        streams_.erase(it);
    }
}

void dispatcher::close_uploads(const std::vector<std::string>& upload_ids) {
    for (const auto& id : upload_ids) {
        const auto it = uploads_.find(id);
        if (it != uploads_.end()) {
            auto state = std::move(it->second);
            uploads_.erase(it);
            state->end(std::nullopt);
        }
    }
}

void dispatcher::send_stream_item(const std::string& invocation_id, boost::json::value item) {
    protocol::stream_item_message message;
    message.invocation_id = invocation_id;
    message.item = std::move(item);
    connection_.send_message_tracked(message);
}

void dispatcher::end_stream(detail::server_stream_state& stream, std::optional<error> failure) {
    streams_.erase(stream.invocation_id);
    if (!connection_.active()) {
        return;
    }
    if (!failure) {
        return send_completion(protocol::completion_message::empty(stream.invocation_id));
    }
    std::string text = "An error occurred on the server while streaming results.";
    if (connection_.options().detailed_errors) {
        text += ' ';
        text += failure->type.empty() ? std::string_view("HubException") : failure->type;
        text += ": ";
        text += failure->message;
    }
    send_completion(protocol::completion_message::with_error(stream.invocation_id, text));
}

void dispatcher::end_invocation(detail::reply_state& reply, std::optional<error> failure,
                                boost::json::value result) {
    close_uploads(reply.upload_ids);
    if (!connection_.active() || !reply.invocation_id) {
        return;
    }
    if (failure) {
        return send_completion(protocol::completion_message::with_error(
            *reply.invocation_id, invocation_error(reply.method, *failure)));
    }
    send_completion(
        protocol::completion_message::with_result(*reply.invocation_id, std::move(result)));
}

void dispatcher::invoke(const routing::message_ptr& message, std::chrono::milliseconds timeout,
                        routing::result_callback on_result) {
    if (!connection_.active()) {
        return on_result(
            make_error("Connection '" + connection_.connection_id() + "' disconnected."));
    }
    std::string id = message->invocation_id();
    shared_buffer bytes;
    if (!id.empty()) {
        // Another instance chose the id (unique across servers) and framed the invocation.
        bytes = message->encoded(connection_.codec().protocol);
        if (!bytes) {
            return on_result(
                make_error("The invocation was not serialized for this client's "
                           "protocol."));
        }
    } else {
        // "s" keeps server ids apart from the ids clients choose for their upload streams.
        id = std::to_string(next_result_id_++);
        id.insert(id.begin(), 's');
        protocol::invocation_message invocation;
        invocation.invocation_id = id;
        invocation.target = message->target();
        invocation.arguments = message->arguments();
        std::string framed;
        connection_.codec().write(invocation, framed);
        bytes = make_shared_buffer(std::move(framed));
    }
    pending_results_.emplace(std::move(id),
                             pending_result{std::move(on_result), clock::now() + timeout});
    connection_.send_tracked(std::move(bytes));
}

void dispatcher::send_completion(const protocol::completion_message& completion) {
    connection_.send_message_tracked(completion);
}

void dispatcher::expire_results(clock::time_point now) {
    for (auto it = pending_results_.begin(); it != pending_results_.end();) {
        if (now >= it->second.deadline) {
            auto on_result = std::move(it->second.on_result);
            it = pending_results_.erase(it);
            on_result(make_error("Timed out waiting for the client's result."));
        } else {
            ++it;
        }
    }
}

void dispatcher::on_closed() {
    for (auto& [id, pending] : std::exchange(pending_results_, {})) {
        pending.on_result(
            make_error("Connection '" + connection_.connection_id() + "' disconnected."));
    }
    for (auto& [id, weak_stream] : std::exchange(streams_, {})) {
        if (auto stream = weak_stream.lock()) {
            if (auto failure = stream->cancel()) {
                connection_.report_user_error(metric_hub_error::stream, stream->method, *failure);
            }
        }
    }
    for (auto& [id, upload] : std::exchange(uploads_, {})) {
        upload->end("Connection closed.");
    }
}

}  // namespace switchboard::hub
