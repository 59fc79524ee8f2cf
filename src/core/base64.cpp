#include "core/base64.hpp"

#include <array>
#include <cstdint>

namespace switchboard {

namespace {

constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using decode_table = std::array<std::int8_t, 256>;

constexpr decode_table make_decode_table(std::string_view alphabet) {
    decode_table table{};
    table.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    }
    return table;
}

constexpr auto standard_values = make_decode_table(standard_alphabet);
constexpr auto url_values = make_decode_table(url_alphabet);

void encode(std::string_view bytes, std::string_view alphabet, bool pad, std::string& out) {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t size = bytes.size();
    out.reserve(out.size() + (size + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const std::uint32_t group =
            (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
        const char quad[] = {alphabet[group >> 18], alphabet[(group >> 12) & 0x3F],
                             alphabet[(group >> 6) & 0x3F], alphabet[group & 0x3F]};
        out.append(quad, sizeof quad);
    }
    const std::size_t rest = size - i;
    if (rest == 0) {
        return;
    }
    std::uint32_t group = std::uint32_t{data[i]} << 16;
    if (rest == 2) {
        group |= std::uint32_t{data[i + 1]} << 8;
    }
    out.push_back(alphabet[group >> 18]);
    out.push_back(alphabet[(group >> 12) & 0x3F]);
    if (rest == 2) {
        out.push_back(alphabet[(group >> 6) & 0x3F]);
    }
    if (pad) {
        out.append(3 - rest, '=');
    }
}

// Decodes unpadded text (whole groups, then 2 or 3 characters); with `canonical`, the bits the
// last character carries beyond the final byte must be zero.
bool decode(std::string_view text, const decode_table& values, bool canonical, std::string& out) {
    if (text.size() % 4 == 1) {
        return false;
    }
    out.reserve(out.size() + text.size() / 4 * 3 + 2);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : text) {
        const int value = values[static_cast<unsigned char>(c)];
        if (value < 0) {
            return false;
        }
        buffer = (buffer << 6 | static_cast<std::uint32_t>(value)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>(buffer >> bits & 0xff));
        }
    }
    return !canonical || (buffer & ((1U << bits) - 1)) == 0;
}

}  // namespace

void append_base64(std::string_view bytes, std::string& out) {
    encode(bytes, standard_alphabet, true, out);
}

bool decode_base64(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) {
        return false;
    }
    // Padding only at the end: "xx==" or "xxx=".
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') {
        padding = text[text.size() - 2] == '=' ? 2 : 1;
    }
    // Lenient on the trailing bits, as .NET's Convert.FromBase64String is.
    return decode(text.substr(0, text.size() - padding), standard_values, false, out);
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    encode(bytes, url_alphabet, false, out);
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out;
    if (!decode(text, url_values, true, out)) {
        return std::nullopt;
    }
    return out;
}

}  // namespace switchboard
