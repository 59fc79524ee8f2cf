#include "routing/postgres/notify_payload.hpp"

#include "core/base64.hpp"

#include <charconv>

namespace switchboard::routing::postgres {

namespace {

void append_header(char kind, std::uint64_t seq, std::string& out) {
    char digits[16];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, seq, 16);
    (void)ec;  // 16 hex digits always hold a uint64
    out.push_back(kind);
    out.append(digits, end);
    out.push_back(':');
}

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

void encode_inline(std::uint64_t seq, std::string_view payload, std::string& out) {
    out.reserve(out.size() + max_header_bytes + (payload.size() + 2) / 3 * 4);
    append_header('i', seq, out);
    append_base64(payload, out);
}

std::string reference_prefix(std::uint64_t seq) {
    std::string out;
    append_header('r', seq, out);
    return out;
}

std::optional<decoded_notify> decode_notify(std::string_view text) {
    if (text.size() < 3 || text.size() > max_notify_bytes) {
        return std::nullopt;
    }
    const char kind = text.front();
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon < 2 || colon > 17) {
        return std::nullopt;
    }
    for (const char c : text.substr(1, colon - 1)) {
        if (!is_lower_hex(c)) {
            return std::nullopt;
        }
    }
    const auto body = text.substr(colon + 1);
    if (kind == 'i') {
        inline_payload payload;
        if (!decode_base64(body, payload.bytes)) {
            return std::nullopt;
        }
        return payload;
    }
    if (kind == 'r') {
        payload_reference reference;
        const auto* end = body.data() + body.size();
        const auto [ptr, ec] = std::from_chars(body.data(), end, reference.row_id);
        // Decimal digits only (no sign, no leading zero): what PostgreSQL prints for an id.
        if (body.empty() || body.front() == '0' || body.front() == '-' || ec != std::errc{} ||
            ptr != end) {
            return std::nullopt;
        }
        return reference;
    }
    return std::nullopt;
}

}  // namespace switchboard::routing::postgres
