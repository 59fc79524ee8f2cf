// `switchboard chat`: an interactive console client of the chat hub (the ASP.NET ChatClient's
// successor), also scriptable through a pipe.
#pragma once

#include "chat/chat_options.hpp"

namespace switchboard::chat {

// Connects, then reads commands and prints events until /quit, end of input or a connection
// closed for good. Returns one of the exit statuses of chat_options.hpp.
int run_chat(const chat_options& options);

}  // namespace switchboard::chat
