// The built-in chat hub (/hubs/chat): broadcast, direct messages, groups, presence events.
#pragma once

#include "hub/hub.hpp"

#include <cstddef>
#include <memory>

namespace switchboard::hub {

struct chat_hub_options {
    // Longer chat messages are refused with an error; the connection stays usable.
    std::size_t max_message_length = 4096;
};

std::shared_ptr<hub_definition> make_chat_hub(chat_hub_options options);

}  // namespace switchboard::hub
