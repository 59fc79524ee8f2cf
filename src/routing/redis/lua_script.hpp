// Lua scripts on Redis: sent by their SHA-1 (EVALSHA) and by their text (EVAL) when the
// server does not know them yet, as after a restart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

struct redisReply;  // hiredis

namespace switchboard::routing::redis {

// Lowercase hex SHA-1 of a script's text, as EVALSHA and SCRIPT LOAD name it.
std::string script_sha1(std::string_view text);

// `verb` (EVAL or EVALSHA) `script` (text or SHA-1) <number of keys> keys... arguments...
std::vector<std::string> script_command(std::string_view verb, std::string_view script,
                                        std::vector<std::string> keys,
                                        std::vector<std::string> arguments);

// True for "-NOSCRIPT ...": the server lost its script cache (restart, SCRIPT FLUSH).
bool is_noscript(const redisReply& reply);

}  // namespace switchboard::routing::redis
