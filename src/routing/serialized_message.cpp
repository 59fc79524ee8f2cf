#include "routing/serialized_message.hpp"

#include "protocol/json_text.hpp"

#include <variant>

namespace switchboard::routing {

namespace {

void append_raw(std::string_view target, const boost::json::array& arguments, std::string& out) {
    out.append("{\"target\":");
    protocol::append_json_string(target, out);
    out.append(",\"arguments\":");
    protocol::append_json_array(arguments, out);
    out.push_back('}');
}

// The raw form of one framed invocation; empty when `framed` is not one.
std::string raw_of(wire_protocol protocol, const shared_buffer& framed) {
    std::string out;
    const auto& codec = protocol::codec_of(protocol);
    std::string_view record;
    if (!framed || !codec.unframe(*framed, record)) {
        return out;
    }
    auto parsed = codec.parse(record);
    if (!parsed) {
        return out;
    }
    if (const auto* invocation = std::get_if<protocol::invocation_message>(&*parsed)) {
        append_raw(invocation->target, invocation->arguments, out);
    }
    return out;
}

}  // namespace

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
        const auto& codec = protocol::codec_of(protocol);
        std::string bytes;
        if (!invocation_id_.empty()) {
            protocol::invocation_message invocation;
            invocation.invocation_id = invocation_id_;
            invocation.target = target_;
            invocation.arguments = arguments_;
            codec.write(invocation, bytes);
        } else {
            codec.write_invocation(target_, arguments_, bytes);
        }
        encoded_[index] = make_shared_buffer(std::move(bytes));
    });
    return encoded_[index];
}

const shared_buffer& serialized_message::raw() const {
    std::call_once(raw_once_, [&] {
        std::string bytes;
        if (!prebuilt_) {
            append_raw(target_, arguments_, bytes);
        } else {
            // JSON first: its parse is cheaper and it carries what JSON clients saw.
            for (const auto protocol : {wire_protocol::json, wire_protocol::messagepack}) {
                bytes = raw_of(protocol, encoded_[static_cast<std::size_t>(protocol)]);
                if (!bytes.empty()) {
                    break;
                }
            }
        }
        if (!bytes.empty()) {
            raw_ = make_shared_buffer(std::move(bytes));
        }
    });
    return raw_;
}

}  // namespace switchboard::routing
