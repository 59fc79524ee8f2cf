#include "routing/channel_codec.hpp"

#include <openssl/sha.h>

#include <array>
#include <stdexcept>

namespace switchboard::routing {

namespace {

constexpr std::string_view hex_digits = "0123456789ABCDEF";

bool is_token_safe(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// Uppercase only: the canonical form, so that each name has one spelling.
int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

constexpr char digest_mark = '#';
// Half of SHA-256, in hex: 128 bits.
constexpr std::size_t digest_hex_digits = 32;

}  // namespace

std::string identity_channel_codec::to_bus(std::string_view logical) const {
    return std::string(logical);
}

std::optional<std::string> identity_channel_codec::from_bus(std::string_view bus) const {
    return std::string(bus);
}

std::string token_channel_codec::to_bus(std::string_view logical) const {
    std::string out = prefix_;
    if (logical.empty()) {
        out += '%';
        return out;
    }
    out.reserve(out.size() + logical.size());
    for (const char ch : logical) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_token_safe(c)) {
            out += ch;
        } else {
            out += '%';
            out += hex_digits[c >> 4];
            out += hex_digits[c & 0xF];
        }
    }
    return out;
}

std::optional<std::string> token_channel_codec::from_bus(std::string_view bus) const {
    if (!bus.starts_with(prefix_)) {
        return std::nullopt;
    }
    bus.remove_prefix(prefix_.size());
    if (bus == "%") {
        return std::string();
    }
    if (bus.empty()) {
        return std::nullopt;  // to_bus spells the empty name "%"
    }
    std::string out;
    out.reserve(bus.size());
    for (std::size_t i = 0; i < bus.size(); ++i) {
        const auto c = static_cast<unsigned char>(bus[i]);
        if (is_token_safe(c)) {
            out += bus[i];
            continue;
        }
        if (c != '%' || bus.size() - i < 3) {
            return std::nullopt;
        }
        const int high = hex_value(bus[i + 1]);
        const int low = hex_value(bus[i + 2]);
        const auto decoded = static_cast<unsigned char>(high * 16 + low);
        if (high < 0 || low < 0 || is_token_safe(decoded)) {
            return std::nullopt;  // not what to_bus writes: another spelling of some name
        }
        out += static_cast<char>(decoded);
        i += 2;
    }
    return out;
}

bounded_channel_codec::bounded_channel_codec(std::size_t max_bytes) : max_bytes_(max_bytes) {
    if (max_bytes_ < 1 + digest_hex_digits) {
        throw std::invalid_argument(
            "bounded_channel_codec: a limit below 33 bytes cannot hold "
            "a digest");
    }
}

std::string bounded_channel_codec::to_bus(std::string_view logical) const {
    if (logical.size() <= max_bytes_ && !logical.starts_with(digest_mark) &&
        logical.find('\0') == std::string_view::npos) {
        return std::string(logical);
    }
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(logical.data()), logical.size(), digest.data());
    std::string out(1, digest_mark);
    for (std::size_t i = 0; i < digest_hex_digits / 2; ++i) {
        out += hex_digits[digest[i] >> 4];
        out += hex_digits[digest[i] & 0xF];
    }
    return out;
}

std::optional<std::string> bounded_channel_codec::from_bus(std::string_view bus) const {
    if (bus.starts_with(digest_mark) || bus.size() > max_bytes_ ||
        bus.find('\0') != std::string_view::npos) {
        return std::nullopt;  // a digest: resolved by the bus's subscription table
    }
    return std::string(bus);
}

}  // namespace switchboard::routing
