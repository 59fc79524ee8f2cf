#include "routing/serialized_message.hpp"

#include "protocol/json_protocol.hpp"
#include "protocol/messagepack_protocol.hpp"

namespace switchboard::routing {

serialized_message::serialized_message(std::string target, boost::json::array arguments)
    : target_(std::move(target)), arguments_(std::move(arguments)) {}

const shared_buffer& serialized_message::encoded(wire_protocol protocol) const {
    const auto index = static_cast<std::size_t>(protocol);
    std::call_once(once_[index], [&] {
        std::string bytes;
        if (protocol == wire_protocol::json) {
            protocol::write_json_invocation(target_, arguments_, bytes);
        } else {
            protocol::write_messagepack_invocation(target_, arguments_, bytes);
        }
        encoded_[index] = make_shared_buffer(std::move(bytes));
    });
    return encoded_[index];
}

}  // namespace switchboard::routing
