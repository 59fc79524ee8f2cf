#include "routing/serialized_message.hpp"

#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"

namespace switchboard::routing {

serialized_message::serialized_message(std::string target, boost::json::array arguments,
                                       std::string invocation_id)
    : target_(std::move(target)),
      arguments_(std::move(arguments)),
      invocation_id_(std::move(invocation_id)) {}

serialized_message::serialized_message(encodings framed, std::string invocation_id)
    : invocation_id_(std::move(invocation_id)), prebuilt_(true), encoded_(std::move(framed)) {}

const shared_buffer& serialized_message::encoded(wire_protocol protocol) const {
    const auto index = static_cast<std::size_t>(protocol);
    if (prebuilt_) {
        return encoded_[index];
    }
    std::call_once(once_[index], [&] {
        std::string bytes;
        if (!invocation_id_.empty()) {
            protocol::invocation_message invocation;
            invocation.invocation_id = invocation_id_;
            invocation.target = target_;
            invocation.arguments = arguments_;
            if (protocol == wire_protocol::json) {
                protocol::write_json_message(invocation, bytes);
            } else {
                protocol::write_messagepack_message(invocation, bytes);
            }
        } else if (protocol == wire_protocol::json) {
            protocol::write_json_invocation(target_, arguments_, bytes);
        } else {
            protocol::write_messagepack_invocation(target_, arguments_, bytes);
        }
        encoded_[index] = make_shared_buffer(std::move(bytes));
    });
    return encoded_[index];
}

}  // namespace switchboard::routing
