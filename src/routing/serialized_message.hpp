// A server-to-client invocation encoded at most once per hub protocol and shared by every
// recipient (DESIGN.md decision 2).
#pragma once

#include "core/shared_buffer.hpp"

#include <boost/json/array.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace switchboard::routing {

// Hub protocols a connection may speak; indexes the per-protocol encodings.
enum class wire_protocol : std::size_t { json = 0, messagepack = 1 };
inline constexpr std::size_t wire_protocol_count = 2;

// Thread safety: immutable after construction except for the lazily built encodings, which
// are each built once under std::call_once, so recipients on any shard may call encoded().
class serialized_message {
public:
    serialized_message(std::string target, boost::json::array arguments);

    [[nodiscard]] const std::string& target() const noexcept { return target_; }
    [[nodiscard]] const boost::json::array& arguments() const noexcept { return arguments_; }

    // The whole framed hub message (Invocation without id) in `protocol`.
    const shared_buffer& encoded(wire_protocol protocol) const;

private:
    std::string target_;
    boost::json::array arguments_;
    mutable std::array<std::once_flag, wire_protocol_count> once_;
    mutable std::array<shared_buffer, wire_protocol_count> encoded_;
};

using message_ptr = std::shared_ptr<const serialized_message>;

inline message_ptr make_message(std::string target, boost::json::array arguments) {
    return std::make_shared<const serialized_message>(std::move(target), std::move(arguments));
}

}  // namespace switchboard::routing
