#include "routing/scaleout/messages.hpp"

#include <msgpuck.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace switchboard::routing::scaleout {

namespace {

// ---------------------------------------------------------------------------------------------
// Writing: size everything first with mp_sizeof_*, so each message is one allocation.

class writer {
public:
    explicit writer(std::size_t size) : out_(size, '\0'), position_(out_.data()) {}

    void array(std::uint32_t count) { position_ = mp_encode_array(position_, count); }
    void map(std::uint32_t count) { position_ = mp_encode_map(position_, count); }
    void nil() { position_ = mp_encode_nil(position_); }
    void str(std::string_view value) {
        position_ =
            mp_encode_str(position_, value.data(), static_cast<std::uint32_t>(value.size()));
    }
    void bin(std::string_view value) {
        position_ =
            mp_encode_bin(position_, value.data(), static_cast<std::uint32_t>(value.size()));
    }
    // As MessagePack-CSharp's Write(int): positive values as unsigned, the smallest format.
    void integer(std::int64_t value) {
        position_ = value >= 0 ? mp_encode_uint(position_, static_cast<std::uint64_t>(value))
                               : mp_encode_int(position_, value);
    }

    std::string finish() && { return std::move(out_); }

private:
    std::string out_;
    char* position_;
};

std::uint32_t size32(std::size_t size) {
    return static_cast<std::uint32_t>(size);
}

std::size_t sizeof_str(std::string_view value) {
    return mp_sizeof_str(size32(value.size()));
}
std::size_t sizeof_bin(std::string_view value) {
    return mp_sizeof_bin(size32(value.size()));
}
std::size_t sizeof_integer(std::int64_t value) {
    return value >= 0 ? mp_sizeof_uint(static_cast<std::uint64_t>(value)) : mp_sizeof_int(value);
}
std::size_t sizeof_optional_str(const std::optional<std::string>& value) {
    return value ? sizeof_str(*value) : mp_sizeof_nil();
}

struct payload_view {
    std::string_view protocol;
    std::string_view bytes;
};

std::string write_invocation(std::span<const std::string> excluded,
                             std::span<const payload_view> payloads,
                             const std::optional<std::string>* invocation_id,
                             const std::optional<std::string>* return_channel) {
    const bool client_result = invocation_id != nullptr;
    const std::uint32_t items = client_result ? 4 : 2;

    std::size_t size = mp_sizeof_array(items) + mp_sizeof_array(size32(excluded.size())) +
                       mp_sizeof_map(size32(payloads.size()));
    for (const auto& id : excluded) {
        size += sizeof_str(id);
    }
    for (const auto& payload : payloads) {
        size += sizeof_str(payload.protocol) + sizeof_bin(payload.bytes);
    }
    if (client_result) {
        size += sizeof_optional_str(*invocation_id) + sizeof_optional_str(*return_channel);
    }

    writer out(size);
    out.array(items);
    out.array(size32(excluded.size()));
    for (const auto& id : excluded) {
        out.str(id);
    }
    out.map(size32(payloads.size()));
    for (const auto& payload : payloads) {
        out.str(payload.protocol);
        out.bin(payload.bytes);
    }
    if (client_result) {
        for (const auto* field : {invocation_id, return_channel}) {
            if (*field) {
                out.str(**field);
            } else {
                out.nil();
            }
        }
    }
    return std::move(out).finish();
}

// ---------------------------------------------------------------------------------------------
// Reading

error invalid_data(std::string message) {
    return make_error(std::move(message), "InvalidDataException");
}

// A cursor over untrusted bytes. mp_check has validated the whole input before the first read,
// but every read still checks its header and length against the bytes left: mp_check keeps its
// pending-element count in an int, which a 32-bit array or map count wraps, and it would then
// accept truncated input.
class reader {
public:
    explicit reader(std::string_view bytes) noexcept
        : position_(bytes.data()), end_(bytes.data() + bytes.size()) {}

    // The top-level check, before any other read.
    [[nodiscard]] bool well_formed() const noexcept {
        const char* probe = position_;
        return position_ != end_ && mp_check(&probe, end_) == 0;
    }

    bool array(std::uint32_t& count) noexcept {
        if (!at(MP_ARRAY) || mp_check_array(position_, end_) > 0) {
            return false;
        }
        const char* start = position_;
        count = mp_decode_array(&position_);
        // Every item takes at least one byte.
        return restore_unless(count <= remaining(), start);
    }

    bool map(std::uint32_t& count) noexcept {
        if (!at(MP_MAP) || mp_check_map(position_, end_) > 0) {
            return false;
        }
        const char* start = position_;
        count = mp_decode_map(&position_);
        return restore_unless(count <= remaining() / 2, start);
    }

    // Any integer format whose value fits in an int32 (MessagePack-CSharp's ReadInt32).
    bool int32(std::int32_t& value) noexcept {
        std::int64_t number = 0;
        if (!integer(number) || number < std::numeric_limits<std::int32_t>::min() ||
            number > std::numeric_limits<std::int32_t>::max()) {
            return false;
        }
        value = static_cast<std::int32_t>(number);
        return true;
    }

    // Any integer format whose value fits in a byte (ReadByte).
    bool byte(std::uint8_t& value) noexcept {
        std::int64_t number = 0;
        if (!integer(number) || number < 0 || number > 0xFF) {
            return false;
        }
        value = static_cast<std::uint8_t>(number);
        return true;
    }

    bool str(std::string_view& value) noexcept {
        if (!at(MP_STR) || mp_check_strl(position_, end_) > 0) {
            return false;
        }
        return take(mp_decode_strl(&position_), value);
    }

    // A str, or nil for an absent string (.NET's ReadString returns null).
    bool optional_str(std::optional<std::string>& value) {
        if (at(MP_NIL)) {
            mp_decode_nil(&position_);
            value.reset();
            return true;
        }
        std::string_view text;
        if (!str(text)) {
            return false;
        }
        value.emplace(text);
        return true;
    }

    bool bin(std::string_view& value) noexcept {
        if (!at(MP_BIN) || mp_check_binl(position_, end_) > 0) {
            return false;
        }
        return take(mp_decode_binl(&position_), value);
    }

private:
    [[nodiscard]] std::size_t remaining() const noexcept {
        return static_cast<std::size_t>(end_ - position_);
    }

    [[nodiscard]] bool at(mp_type type) const noexcept {
        return position_ != end_ && mp_typeof(*position_) == type;
    }

    bool restore_unless(bool ok, const char* start) noexcept {
        if (!ok) {
            position_ = start;
        }
        return ok;
    }

    bool integer(std::int64_t& value) noexcept {
        const char* start = position_;
        if (at(MP_UINT)) {
            if (mp_check_uint(position_, end_) > 0) {
                return false;
            }
            const std::uint64_t number = mp_decode_uint(&position_);
            if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                position_ = start;
                return false;
            }
            value = static_cast<std::int64_t>(number);
            return true;
        }
        if (at(MP_INT)) {
            if (mp_check_int(position_, end_) > 0) {
                return false;
            }
            value = mp_decode_int(&position_);
            return true;
        }
        return false;
    }

    // The `length` bytes after a str or bin header just decoded.
    bool take(std::uint32_t length, std::string_view& value) noexcept {
        if (length > remaining()) {
            return false;
        }
        value = std::string_view(position_, length);
        position_ += length;
        return true;
    }

    const char* position_;
    const char* end_;
};

// Opens the top-level array of a `type` message holding at least `items` items.
expected<void> open(reader& in, std::string_view type, std::uint32_t items, std::uint32_t& count) {
    if (!in.well_formed()) {
        return invalid_data("Malformed MessagePack in " + std::string(type) + " message.");
    }
    if (!in.array(count)) {
        return invalid_data("Reading " + std::string(type) + " array header failed.");
    }
    if (count < items) {
        // The .NET text (RedisProtocol.ValidateArraySize).
        return invalid_data("Insufficient items in " + std::string(type) + " array.");
    }
    return {};
}

error field_failed(std::string_view type, std::string_view field, std::string_view as) {
    return invalid_data("Reading '" + std::string(field) + "' of " + std::string(type) + " as " +
                        std::string(as) + " failed.");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const shared_buffer* invocation::payload(std::string_view protocol) const noexcept {
    const auto found = std::find_if(payloads.begin(), payloads.end(),
                                    [&](const auto& entry) { return entry.protocol == protocol; });
    return found == payloads.end() ? nullptr : &found->bytes;
}

bool invocation::excludes(std::string_view connection_id) const noexcept {
    return std::find(excluded_connection_ids.begin(), excluded_connection_ids.end(),
                     connection_id) != excluded_connection_ids.end();
}

std::string encode_invocation(const invocation& invocation) {
    std::vector<payload_view> views;
    views.reserve(invocation.payloads.size());
    for (const auto& payload : invocation.payloads) {
        views.push_back({payload.protocol, *payload.bytes});
    }
    const bool client_result = invocation.invocation_id || invocation.return_channel;
    return write_invocation(invocation.excluded_connection_ids, views,
                            client_result ? &invocation.invocation_id : nullptr,
                            client_result ? &invocation.return_channel : nullptr);
}

std::string encode_invocation(const serialized_message& message,
                              std::span<const std::string> excluded_connection_ids) {
    const std::array<payload_view, 2> views{{
        {json_protocol_name, *message.encoded(wire_protocol::json)},
        {messagepack_protocol_name, *message.encoded(wire_protocol::messagepack)},
    }};
    return write_invocation(excluded_connection_ids, views, nullptr, nullptr);
}

std::string encode_group_command(const group_command& command) {
    const auto action = static_cast<std::uint8_t>(command.action);
    writer out(mp_sizeof_array(5) + sizeof_integer(command.id) + sizeof_str(command.server_name) +
               mp_sizeof_uint(action) + sizeof_str(command.group_name) +
               sizeof_str(command.connection_id));
    out.array(5);
    out.integer(command.id);
    out.str(command.server_name);
    out.integer(action);
    out.str(command.group_name);
    out.str(command.connection_id);
    return std::move(out).finish();
}

std::string encode_ack(std::int32_t id) {
    writer out(mp_sizeof_array(1) + sizeof_integer(id));
    out.array(1);
    out.integer(id);
    return std::move(out).finish();
}

std::string encode_completion(std::string_view protocol, std::string_view completion_bytes) {
    writer out(mp_sizeof_array(2) + sizeof_str(protocol) + sizeof_bin(completion_bytes));
    out.array(2);
    out.str(protocol);
    out.bin(completion_bytes);
    return std::move(out).finish();
}

expected<invocation> decode_invocation(std::string_view bytes) {
    constexpr std::string_view type = "Invocation";
    reader in(bytes);
    std::uint32_t items = 0;
    if (auto opened = open(in, type, 2, items); !opened) {
        return opened.get_error();
    }

    invocation invocation;
    std::uint32_t count = 0;
    if (!in.array(count)) {
        return field_failed(type, "excludedConnectionIds", "Array");
    }
    invocation.excluded_connection_ids.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::string_view id;
        if (!in.str(id)) {
            return field_failed(type, "excludedConnectionIds", "Array of String");
        }
        invocation.excluded_connection_ids.emplace_back(id);
    }

    if (!in.map(count)) {
        return field_failed(type, "serializations", "Map");
    }
    invocation.payloads.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::string_view protocol;
        std::string_view payload;
        if (!in.str(protocol)) {
            return field_failed(type, "serializations", "Map of String keys");
        }
        if (!in.bin(payload)) {
            return field_failed(type, "serializations", "Map of Binary values");
        }
        invocation.payloads.push_back(
            {std::string(protocol), make_shared_buffer(std::string(payload))});
    }

    // As ReadInvocation: items [2] and [3] are read only when there are more than 3.
    if (items > 3) {
        if (!in.optional_str(invocation.invocation_id)) {
            return field_failed(type, "invocationId", "String");
        }
        if (!in.optional_str(invocation.return_channel)) {
            return field_failed(type, "returnChannel", "String");
        }
    }
    return invocation;
}

expected<group_command> decode_group_command(std::string_view bytes) {
    constexpr std::string_view type = "GroupCommand";
    reader in(bytes);
    std::uint32_t items = 0;
    if (auto opened = open(in, type, 5, items); !opened) {
        return opened.get_error();
    }

    group_command command;
    std::string_view server_name;
    std::uint8_t action = 0;
    std::string_view group_name;
    std::string_view connection_id;
    if (!in.int32(command.id)) {
        return field_failed(type, "id", "Int32");
    }
    if (!in.str(server_name)) {
        return field_failed(type, "serverName", "String");
    }
    if (!in.byte(action)) {
        return field_failed(type, "action", "Byte");
    }
    if (action != static_cast<std::uint8_t>(group_action::add) &&
        action != static_cast<std::uint8_t>(group_action::remove)) {
        return invalid_data("Unknown group action " + std::to_string(action) + " in " +
                            std::string(type) + ".");
    }
    if (!in.str(group_name)) {
        return field_failed(type, "groupName", "String");
    }
    if (!in.str(connection_id)) {
        return field_failed(type, "connectionId", "String");
    }
    command.server_name = server_name;
    command.action = static_cast<group_action>(action);
    command.group_name = group_name;
    command.connection_id = connection_id;
    return command;
}

expected<std::int32_t> decode_ack(std::string_view bytes) {
    constexpr std::string_view type = "Ack";
    reader in(bytes);
    std::uint32_t items = 0;
    if (auto opened = open(in, type, 1, items); !opened) {
        return opened.get_error();
    }
    std::int32_t id = 0;
    if (!in.int32(id)) {
        return field_failed(type, "id", "Int32");
    }
    return id;
}

expected<completion> decode_completion(std::string_view bytes) {
    constexpr std::string_view type = "Completion";
    reader in(bytes);
    std::uint32_t items = 0;
    if (auto opened = open(in, type, 2, items); !opened) {
        return opened.get_error();
    }
    std::string_view protocol;
    std::string_view completion;
    if (!in.str(protocol)) {
        return field_failed(type, "protocolName", "String");
    }
    if (!in.bin(completion)) {
        return field_failed(type, "completion", "Binary");
    }
    return scaleout::completion{std::string(protocol), make_shared_buffer(std::string(completion))};
}

}  // namespace switchboard::routing::scaleout
