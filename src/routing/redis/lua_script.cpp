#include "routing/redis/lua_script.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace switchboard::routing::redis {

std::string script_sha1(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr) != 1) {
        std::abort();  // startup only; OpenSSL without SHA-1 cannot run Redis scripts at all
    }
    std::string hex;
    hex.reserve(2 * size);
    for (unsigned int i = 0; i < size; ++i) {
        std::array<char, 3> byte{};
        std::snprintf(byte.data(), byte.size(), "%02x", digest[i]);
        hex += byte.data();
    }
    return hex;
}

std::vector<std::string> script_command(std::string_view verb, std::string_view script,
                                        std::vector<std::string> keys,
                                        std::vector<std::string> arguments) {
    std::vector<std::string> command;
    command.reserve(3 + keys.size() + arguments.size());
    command.emplace_back(verb);
    command.emplace_back(script);
    command.push_back(std::to_string(keys.size()));
    for (auto& key : keys) {
        command.push_back(std::move(key));
    }
    for (auto& argument : arguments) {
        command.push_back(std::move(argument));
    }
    return command;
}

bool is_noscript(const redisReply& reply) {
    return reply.type == REDIS_REPLY_ERROR &&
           std::string_view(reply.str, reply.len).starts_with("NOSCRIPT");
}

}  // namespace switchboard::routing::redis
