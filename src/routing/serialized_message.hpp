// A server-to-client invocation encoded at most once per hub protocol and shared by every
// recipient (DESIGN.md decision 2).
#pragma once

#include "core/shared_buffer.hpp"
#include "protocol/codec.hpp"

#include <boost/json/array.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace switchboard::routing {

// The protocol layer owns the list; routing code keeps naming it from here.
using protocol::wire_protocol;
using protocol::wire_protocol_count;

// Thread safety: immutable after construction except for the lazily built encodings and raw
// form, which are each built once under std::call_once, so any shard may read them.
class serialized_message {
public:
    using encodings = std::array<shared_buffer, wire_protocol_count>;

    // A local invocation; `invocation_id` is set only for a client-result request.
    serialized_message(std::string target, boost::json::array arguments,
                       std::string invocation_id = {});
    // A message that arrived already framed from another instance; a null entry means the
    // publisher did not serialize that protocol, so its clients cannot be served.
    explicit serialized_message(encodings framed, std::string invocation_id = {});

    [[nodiscard]] const std::string& target() const noexcept { return target_; }
    [[nodiscard]] const boost::json::array& arguments() const noexcept { return arguments_; }
    // Non-empty when the encodings carry an invocation id (a client result is expected).
    [[nodiscard]] const std::string& invocation_id() const noexcept { return invocation_id_; }

    // The whole framed hub message in `protocol`; null only for a received message that lacks
    // that protocol.
    const shared_buffer& encoded(wire_protocol protocol) const;

    // The invocation as plain JSON, {"target":"...","arguments":[...]} without type, id or
    // record separator: what event streams and the REST API carry. A received message gets it
    // from its json encoding, else its messagepack one; null when neither holds an invocation.
    // Built on the first call only: messages nobody asks this of never pay for it.
    const shared_buffer& raw() const;

private:
    std::string target_;
    boost::json::array arguments_;
    std::string invocation_id_;
    bool prebuilt_ = false;
    mutable std::array<std::once_flag, wire_protocol_count> once_;
    mutable encodings encoded_;
    mutable std::once_flag raw_once_;
    mutable shared_buffer raw_;
};

using message_ptr = std::shared_ptr<const serialized_message>;

inline message_ptr make_message(std::string target, boost::json::array arguments) {
    return std::make_shared<const serialized_message>(std::move(target), std::move(arguments));
}

}  // namespace switchboard::routing
