// The invocations of one connection: binds each to its hub method, keeps what outlives the
// call (streams to and from the caller, client results this server waits for) and builds the
// Completions (ASP.NET's DefaultHubDispatcher, for one connection).
#pragma once

#include "core/expected.hpp"
#include "hub/hub.hpp"
#include "protocol/hub_message.hpp"
#include "routing/router.hpp"

#include <boost/json/array.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::hub {

class hub_connection;

// Thread safety: a member of its hub connection, on that connection's shard.
class dispatcher {
public:
    using clock = std::chrono::steady_clock;

    explicit dispatcher(hub_connection& connection) noexcept : connection_(connection) {}

    // An Invocation (streaming == false) or a StreamInvocation: runs the method.
    void on_invocation(std::optional<std::string> invocation_id, std::string_view target,
                       const boost::json::array& arguments,
                       const std::vector<std::string>& stream_ids, bool streaming);
    void on_stream_item(protocol::stream_item_message&& item);
    // Ends an upload, or answers a client result this server waits for.
    void on_completion(protocol::completion_message&& completion);
    void on_cancel(const std::string& invocation_id);

    // From the stream and reply handles (hub/streams.hpp).
    void send_stream_item(const std::string& invocation_id, boost::json::value item);
    void end_stream(detail::server_stream_state& stream, std::optional<error> failure);
    void end_invocation(detail::reply_state& reply, std::optional<error> failure,
                        boost::json::value result);

    // A client result: sends the invocation and waits for the client's Completion.
    void invoke(const routing::message_ptr& message, std::chrono::milliseconds timeout,
                routing::result_callback on_result);
    // Fails the client results whose deadline passed.
    void expire_results(clock::time_point now);
    // The connection ended: pending results fail, streams are cancelled, uploads end.
    void on_closed();

private:
    // ASP.NET's text for a method's error: HubException messages always, others' details
    // with detailed errors only.
    [[nodiscard]] std::string invocation_error(const std::string& method,
                                               const error& failure) const;
    void send_completion(const protocol::completion_message& completion);
    void close_uploads(const std::vector<std::string>& upload_ids);

    struct pending_result {
        routing::result_callback on_result;
        clock::time_point deadline;
    };

    hub_connection& connection_;
    // Streams to the caller, by invocation id; the writers own them.
    std::unordered_map<std::string, std::weak_ptr<detail::server_stream_state>> streams_;
    // Streams from the caller, by stream id.
    std::unordered_map<std::string, std::shared_ptr<detail::upload_state>> uploads_;
    // Client results this server waits for, by the "s<N>" invocation id it sent.
    std::unordered_map<std::string, pending_result> pending_results_;
    std::uint64_t next_result_id_ = 1;
};

}  // namespace switchboard::hub
