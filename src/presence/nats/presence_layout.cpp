#include "presence/nats/presence_layout.hpp"

#include <charconv>

namespace switchboard::presence::nats {

namespace {

bool plain(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

void append_token(std::string& out, std::string_view name) {
    out += '.';
    out += encode_token(name);
}

void put(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

// Reads fields off the front of a value.
class reader {
public:
    explicit reader(std::string_view text) : rest_(text) {}

    std::optional<std::string> field() {
        const auto colon = rest_.find(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        std::size_t size = 0;
        const auto [end, ec] = std::from_chars(rest_.data(), rest_.data() + colon, size);
        if (ec != std::errc() || end != rest_.data() + colon || size > rest_.size() - colon - 1) {
            return std::nullopt;
        }
        std::string value(rest_.substr(colon + 1, size));
        rest_.remove_prefix(colon + 1 + size);
        return value;
    }
    std::optional<std::uint64_t> number() {
        const auto text = field();
        std::uint64_t value = 0;
        if (!text ||
            std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc()) {
            return std::nullopt;
        }
        return value;
    }
    [[nodiscard]] bool done() const { return rest_.empty(); }

private:
    std::string_view rest_;
};

}  // namespace

std::string encode_token(std::string_view name) {
    if (name.empty()) {
        return "=";
    }
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(name.size());
    for (const char c : name) {
        if (plain(c)) {
            out += c;
        } else {
            const auto byte = static_cast<unsigned char>(c);
            out += '_';
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        }
    }
    return out;
}

std::string decode_token(std::string_view token) {
    if (token == "=") {
        return {};
    }
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    std::string out;
    out.reserve(token.size());
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '_' && i + 2 < token.size() && nibble(token[i + 1]) >= 0 &&
            nibble(token[i + 2]) >= 0) {
            out += static_cast<char>((nibble(token[i + 1]) << 4) | nibble(token[i + 2]));
            i += 2;
        } else {
            out += token[i];
        }
    }
    return out;
}

std::string layout::heartbeat(std::string_view incarnation) const {
    std::string key = root + ".i";
    append_token(key, incarnation);
    return key;
}

std::string layout::heartbeats() const {
    return root + ".i.*";
}

std::string layout::index(std::string_view incarnation, std::string_view hub,
                          std::string_view connection) const {
    std::string key = root + ".x";
    append_token(key, incarnation);
    append_token(key, hub);
    append_token(key, connection);
    return key;
}

std::string layout::index_of(std::string_view incarnation) const {
    std::string key = root + ".x";
    append_token(key, incarnation);
    key += ".>";
    return key;
}

std::string layout::user(std::string_view hub, std::string_view user) const {
    std::string key = root + ".h";
    append_token(key, hub);
    key += ".u";
    append_token(key, user);
    return key;
}

std::string layout::users(std::string_view hub) const {
    std::string key = root + ".h";
    append_token(key, hub);
    key += ".u.*";
    return key;
}

std::string layout::member(std::string_view hub, std::string_view group,
                           std::string_view connection) const {
    std::string key = root + ".h";
    append_token(key, hub);
    key += ".g";
    append_token(key, group);
    append_token(key, connection);
    return key;
}

std::string layout::members(std::string_view hub, std::string_view group) const {
    std::string key = root + ".h";
    append_token(key, hub);
    key += ".g";
    append_token(key, group);
    key += ".*";
    return key;
}

std::string layout::state(std::string_view key) const {
    std::string out = root + ".s";
    append_token(out, key);
    return out;
}

std::string encode(const user_record& record) {
    std::string out;
    put(out, record.user);
    put(out, record.reported ? "1" : "0");
    for (const auto& c : record.connections) {
        put(out, c.id);
        put(out, c.incarnation);
        put(out, std::to_string(c.connected_at_ms));
    }
    return out;
}

std::optional<user_record> decode_user(std::string_view text) {
    reader in(text);
    user_record record;
    auto user = in.field();
    auto reported = in.field();
    if (!user || !reported) {
        return std::nullopt;
    }
    record.user = std::move(*user);
    record.reported = *reported == "1";
    while (!in.done()) {
        auto id = in.field();
        auto incarnation = in.field();
        auto at = in.number();
        if (!id || !incarnation || !at) {
            return std::nullopt;
        }
        record.connections.push_back({std::move(*id), std::move(*incarnation), *at});
    }
    return record;
}

std::string encode(const index_entry& entry) {
    std::string out;
    put(out, entry.hub);
    put(out, entry.connection);
    put(out, entry.user);
    for (const auto& group : entry.groups) {
        put(out, group);
    }
    return out;
}

std::optional<index_entry> decode_index(std::string_view text) {
    reader in(text);
    auto hub = in.field();
    auto connection = in.field();
    auto user = in.field();
    if (!hub || !connection || !user) {
        return std::nullopt;
    }
    index_entry entry{std::move(*hub), std::move(*connection), std::move(*user), {}};
    while (!in.done()) {
        auto group = in.field();
        if (!group) {
            return std::nullopt;
        }
        entry.groups.push_back(std::move(*group));
    }
    return entry;
}

std::string encode(const member_entry& entry) {
    std::string out;
    put(out, entry.incarnation);
    put(out, std::to_string(entry.connected_at_ms));
    put(out, entry.user);
    return out;
}

std::optional<member_entry> decode_member(std::string_view text) {
    reader in(text);
    auto incarnation = in.field();
    auto at = in.number();
    auto user = in.field();
    if (!incarnation || !at || !user || !in.done()) {
        return std::nullopt;
    }
    return member_entry{std::move(*incarnation), *at, std::move(*user)};
}

std::string encode(const state_value& entry) {
    std::string out;
    put(out, std::to_string(entry.deadline_ms));
    put(out, entry.value);
    return out;
}

std::optional<state_value> decode_state(std::string_view text) {
    reader in(text);
    auto deadline = in.number();
    auto value = in.field();
    if (!deadline || !value || !in.done()) {
        return std::nullopt;
    }
    return state_value{*deadline, std::move(*value)};
}

}  // namespace switchboard::presence::nats
