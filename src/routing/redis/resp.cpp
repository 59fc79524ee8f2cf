#include "routing/redis/resp.hpp"

#include <array>
#include <charconv>

namespace switchboard::routing::redis::resp {

namespace {

// Redis never nests deeper than a few levels nor sends more elements than it has memory for;
// the bounds only stop a corrupt stream from looking like a very long reply.
constexpr std::int64_t max_elements = std::int64_t{1} << 32;
constexpr std::int64_t max_bulk = std::int64_t{512} * 1024 * 1024;  // proto-max-bulk-len

// The number on the line starting at data[at] (after its type byte), and where the next line
// starts; nothing when the line is incomplete. `bad` is set for a line that is no number.
struct line {
    std::int64_t value = 0;
    std::size_t next = 0;
};
std::optional<line> read_number(std::string_view data, std::size_t at, bool& bad) noexcept {
    const auto end = data.find("\r\n", at);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    line out;
    const auto* first = data.data() + at;
    const auto* last = data.data() + end;
    const auto [ptr, ec] = std::from_chars(first, last, out.value);
    bad = ec != std::errc{} || ptr != last;
    out.next = end + 2;
    return out;
}

// A bulk string "$<n>\r\n<n bytes>\r\n" at data[at]: its bytes and where the next item starts.
std::optional<std::pair<std::string_view, std::size_t>> read_bulk(std::string_view data,
                                                                  std::size_t at) noexcept {
    bool bad = false;
    if (at >= data.size() || data[at] != '$') {
        return std::nullopt;
    }
    const auto header = read_number(data, at + 1, bad);
    if (!header || bad || header->value < 0 ||
        static_cast<std::uint64_t>(header->value) + 2 > data.size() - header->next) {
        return std::nullopt;
    }
    const auto size = static_cast<std::size_t>(header->value);
    return std::pair{data.substr(header->next, size), header->next + size + 2};
}

}  // namespace

void append_bulk_header(std::string& out, std::size_t size) {
    // "$" + up to 20 digits + CRLF.
    std::array<char, 24> text{};
    text[0] = '$';
    const auto end = std::to_chars(text.data() + 1, text.data() + text.size() - 2, size).ptr;
    end[0] = '\r';
    end[1] = '\n';
    out.append(text.data(), static_cast<std::size_t>(end + 2 - text.data()));
}

void append_bulk(std::string& out, std::string_view argument) {
    append_bulk_header(out, argument.size());
    out.append(argument);
    out += "\r\n";
}

std::string encode_array(const std::vector<std::string_view>& arguments) {
    std::string out(1, '*');
    out += std::to_string(arguments.size());
    out += "\r\n";
    for (auto argument : arguments) {
        append_bulk(out, argument);
    }
    return out;
}

std::optional<std::size_t> reply_size(std::string_view data) noexcept {
    std::size_t at = 0;
    std::int64_t pending = 1;  // items still to read, nested ones included
    while (pending > 0) {
        if (at >= data.size()) {
            return 0;
        }
        const char type = data[at];
        if (type == '+' || type == '-') {
            const auto end = data.find("\r\n", at);
            if (end == std::string_view::npos) {
                return 0;
            }
            at = end + 2;
            --pending;
            continue;
        }
        if (type != ':' && type != '$' && type != '*') {
            return std::nullopt;
        }
        bool bad = false;
        const auto header = read_number(data, at + 1, bad);
        if (!header) {
            return 0;
        }
        if (bad) {
            return std::nullopt;
        }
        at = header->next;
        --pending;
        if (type == '$' && header->value >= 0) {
            if (header->value > max_bulk) {
                return std::nullopt;
            }
            const auto size = static_cast<std::size_t>(header->value) + 2;
            if (data.size() - at < size) {
                return 0;
            }
            if (data.substr(at + size - 2, 2) != "\r\n") {
                return std::nullopt;
            }
            at += size;
        } else if (type == '*' && header->value > 0) {
            if (header->value > max_elements) {
                return std::nullopt;
            }
            pending += header->value;
        }
    }
    return at;
}

std::optional<std::int64_t> integer_reply(std::string_view reply) noexcept {
    if (reply.size() < 4 || reply[0] != ':') {
        return std::nullopt;
    }
    bool bad = false;
    const auto number = read_number(reply, 1, bad);
    if (!number || bad || number->next != reply.size()) {
        return std::nullopt;
    }
    return number->value;
}

std::optional<message> message_reply(std::string_view reply) noexcept {
    constexpr std::string_view plain = "*3\r\n$7\r\nmessage\r\n";
    constexpr std::string_view sharded = "*3\r\n$8\r\nsmessage\r\n";
    std::size_t at = 0;
    if (reply.starts_with(plain)) {
        at = plain.size();
    } else if (reply.starts_with(sharded)) {
        at = sharded.size();
    } else {
        return std::nullopt;
    }
    const auto channel = read_bulk(reply, at);
    if (!channel) {
        return std::nullopt;
    }
    const auto payload = read_bulk(reply, channel->second);
    if (!payload || payload->second != reply.size()) {
        return std::nullopt;
    }
    return message{channel->first, payload->first};
}

}  // namespace switchboard::routing::redis::resp
