#include "protocol/messagepack_protocol.hpp"

#include "core/utf8.hpp"
#include "protocol/binary_framing.hpp"
#include "protocol/hub_value.hpp"

#include <msgpuck.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <variant>

namespace switchboard::protocol {

namespace json = boost::json;

namespace {

constexpr int result_kind_error = 1;
constexpr int result_kind_void = 2;
constexpr int result_kind_value = 3;

constexpr std::int8_t timestamp_extension = -1;
constexpr std::uint32_t nanoseconds_per_second = 1'000'000'000;

// ---------------------------------------------------------------------------------------------
// Reading

// Why a value failed; the texts follow "Reading '<field>' failed. ".
enum class value_error { none, malformed, map_key, depth, extension, timestamp };

// A cursor over untrusted bytes. Every read checks that its bytes are there (mp_check for whole
// values, the header checks of msgpuck for container headers) before the unchecked msgpuck
// decoders run. A failed structural read leaves the cursor where it was; a failed value ends
// the parse anyway.
class body_reader {
public:
    explicit body_reader(std::string_view bytes) noexcept
        : position_(bytes.data()), end_(bytes.data() + bytes.size()) {}

    [[nodiscard]] std::size_t remaining() const noexcept {
        return static_cast<std::size_t>(end_ - position_);
    }

    bool read_array_header(std::uint32_t& count) noexcept {
        if (position_ == end_ || mp_typeof(*position_) != MP_ARRAY ||
            mp_check_array(position_, end_) > 0) {
            return false;
        }
        count = mp_decode_array(&position_);
        return true;
    }

    bool read_map_header(std::uint32_t& count) noexcept {
        if (position_ == end_ || mp_typeof(*position_) != MP_MAP ||
            mp_check_map(position_, end_) > 0) {
            return false;
        }
        count = mp_decode_map(&position_);
        return true;
    }

    // Any integer format, as long as the value fits.
    bool read_int64(std::int64_t& value) noexcept {
        if (position_ == end_) {
            return false;
        }
        const auto type = mp_typeof(*position_);
        if ((type != MP_UINT && type != MP_INT) || !whole_value_present()) {
            return false;
        }
        if (type == MP_INT) {
            value = mp_decode_int(&position_);
            return true;
        }
        const char* start = position_;
        const std::uint64_t number = mp_decode_uint(&position_);
        if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            position_ = start;
            return false;
        }
        value = static_cast<std::int64_t>(number);
        return true;
    }

    bool read_int32(int& value) noexcept {
        const char* start = position_;
        std::int64_t number = 0;
        if (!read_int64(number) || number < std::numeric_limits<int>::min() ||
            number > std::numeric_limits<int>::max()) {
            position_ = start;
            return false;
        }
        value = static_cast<int>(number);
        return true;
    }

    // A str, or nil (an absent string, as .NET's ReadString returns null).
    bool read_string(std::optional<std::string_view>& value) noexcept {
        if (position_ == end_) {
            return false;
        }
        const auto type = mp_typeof(*position_);
        if (type == MP_NIL) {
            ++position_;
            value.reset();
            return true;
        }
        if (type != MP_STR || !whole_value_present()) {
            return false;
        }
        std::uint32_t length = 0;
        const char* data = mp_decode_str(&position_, &length);
        value = std::string_view(data, length);
        return true;
    }

    bool read_bool(bool& value) noexcept {
        if (position_ == end_ || mp_typeof(*position_) != MP_BOOL) {
            return false;
        }
        value = mp_decode_bool(&position_);
        return true;
    }

    // One whole value of any type. mp_check validates it first, in one flat pass; the decoder
    // still checks every count and length against the bytes left, because mp_check keeps its
    // pending-element count in an int that a 32-bit array or map count wraps (dd 80 00 00 00
    // passes it) and would then declare truncated input complete.
    value_error read_value(hub_value& value) {
        if (position_ == end_ || !whole_value_present()) {
            return value_error::malformed;
        }
        return decode_value(value, 0);
    }

private:
    bool whole_value_present() const noexcept {
        const char* probe = position_;
        return mp_check(&probe, end_) == 0;
    }

    value_error decode_value(hub_value& value, std::size_t depth) {
        if (position_ == end_) {
            return value_error::malformed;
        }
        switch (mp_typeof(*position_)) {
        case MP_NIL:
            ++position_;
            value = nullptr;
            return value_error::none;
        case MP_BOOL:
            value = mp_decode_bool(&position_);
            return value_error::none;
        case MP_UINT: {
            if (remaining() < 1 + fixed_size()) {
                return value_error::malformed;
            }
            const std::uint64_t number = mp_decode_uint(&position_);
            // Like the JSON reader: int64 whenever the number fits.
            if (number <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                value = static_cast<std::int64_t>(number);
            } else {
                value = number;
            }
            return value_error::none;
        }
        case MP_INT:
            if (remaining() < 1 + fixed_size()) {
                return value_error::malformed;
            }
            value = mp_decode_int(&position_);
            return value_error::none;
        case MP_FLOAT:
            if (remaining() < 1 + sizeof(float)) {
                return value_error::malformed;
            }
            value = static_cast<double>(mp_decode_float(&position_));
            return value_error::none;
        case MP_DOUBLE:
            if (remaining() < 1 + sizeof(double)) {
                return value_error::malformed;
            }
            value = mp_decode_double(&position_);
            return value_error::none;
        case MP_STR: {
            std::string_view text;
            if (!take_sized(text, false)) {
                return value_error::malformed;
            }
            // Values reach JSON clients too, and JSON text must be valid UTF-8.
            value = is_valid_utf8(text) ? json::string(text) : json::string(to_valid_utf8(text));
            return value_error::none;
        }
        case MP_BIN: {
            std::string_view bytes;
            if (!take_sized(bytes, true)) {
                return value_error::malformed;
            }
            value = make_binary(bytes);
            return value_error::none;
        }
        case MP_ARRAY:
            return decode_array(value, depth);
        case MP_MAP:
            return decode_map(value, depth);
        case MP_EXT:
            return decode_extension(value);
        }
        return value_error::malformed;
    }

    // Bytes after the lead byte of a fixed-size scalar (ints, floats): 0 for the fix formats.
    std::size_t fixed_size() const noexcept {
        const auto lead = static_cast<unsigned char>(*position_);
        switch (lead) {
        case 0xcc:
        case 0xd0:
            return 1;
        case 0xcd:
        case 0xd1:
            return 2;
        case 0xce:
        case 0xd2:
            return 4;
        case 0xcf:
        case 0xd3:
            return 8;
        default:
            return 0;
        }
    }

    // A str or bin: its header and all of its bytes.
    bool take_sized(std::string_view& bytes, bool is_binary) noexcept {
        const auto lead = static_cast<unsigned char>(*position_);
        // fixstr: the length is in the lead byte; str8/16/32 and bin8/16/32: 1, 2 or 4 more.
        std::size_t header = 1;
        if (is_binary || (lead & 0xE0) != 0xA0) {
            const unsigned width = is_binary ? lead - 0xc4 : lead - 0xd9;  // 0, 1, 2
            header += std::size_t{1} << width;
        }
        if (remaining() < header) {
            return false;
        }
        std::uint32_t length = 0;
        const char* cursor = position_;
        const char* data =
            is_binary ? mp_decode_bin(&cursor, &length) : mp_decode_str(&cursor, &length);
        if (static_cast<std::size_t>(end_ - data) < length) {
            return false;
        }
        bytes = std::string_view(data, length);
        position_ = data + length;
        return true;
    }

    value_error decode_array(hub_value& value, std::size_t depth) {
        if (mp_check_array(position_, end_) > 0) {
            return value_error::malformed;
        }
        const char* start = position_;
        const std::uint32_t count = mp_decode_array(&position_);
        // Every element takes at least one byte.
        if (count > remaining()) {
            position_ = start;
            return value_error::malformed;
        }
        if (depth >= max_messagepack_depth) {
            return value_error::depth;
        }
        json::array& array = value.emplace_array();
        array.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            if (const auto error = decode_value(array.emplace_back(nullptr), depth + 1);
                error != value_error::none) {
                return error;
            }
        }
        return value_error::none;
    }

    value_error decode_map(hub_value& value, std::size_t depth) {
        if (mp_check_map(position_, end_) > 0) {
            return value_error::malformed;
        }
        const char* start = position_;
        const std::uint32_t count = mp_decode_map(&position_);
        if (std::uint64_t{count} * 2 > remaining()) {
            position_ = start;
            return value_error::malformed;
        }
        if (depth >= max_messagepack_depth) {
            return value_error::depth;
        }
        json::object& object = value.emplace_object();
        object.reserve(count);
        for (std::uint32_t i = 0; i < count; ++i) {
            if (position_ == end_) {
                return value_error::malformed;
            }
            if (mp_typeof(*position_) != MP_STR) {
                return value_error::map_key;
            }
            std::string_view key;
            if (!take_sized(key, false)) {
                return value_error::malformed;
            }
            hub_value member;
            if (const auto error = decode_value(member, depth + 1); error != value_error::none) {
                return error;
            }
            // A repeated key keeps its last value, as the JSON reader does.
            if (is_valid_utf8(key)) {
                object.insert_or_assign(key, std::move(member));
            } else {
                object.insert_or_assign(to_valid_utf8(key), std::move(member));
            }
        }
        return value_error::none;
    }

    value_error decode_extension(hub_value& value) {
        const auto* bytes = reinterpret_cast<const unsigned char*>(position_);
        const std::size_t available = remaining();
        std::size_t header = 0;
        std::size_t length = 0;
        switch (bytes[0]) {
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            header = 2;
            length = std::size_t{1} << (bytes[0] - 0xd4);
            break;
        case 0xc7:
            header = 3;
            if (available < header) {
                return value_error::malformed;
            }
            length = bytes[1];
            break;
        case 0xc8:
            header = 4;
            if (available < header) {
                return value_error::malformed;
            }
            length = (std::size_t{bytes[1]} << 8) | bytes[2];
            break;
        case 0xc9:
            header = 6;
            if (available < header) {
                return value_error::malformed;
            }
            length = (std::size_t{bytes[1]} << 24) | (std::size_t{bytes[2]} << 16) |
                     (std::size_t{bytes[3]} << 8) | bytes[4];
            break;
        default:
            // 0xc1, which MessagePack never uses and msgpuck files under MP_EXT.
            return value_error::malformed;
        }
        if (available < header || available - header < length) {
            return value_error::malformed;
        }
        const auto type = static_cast<std::int8_t>(bytes[header - 1]);
        if (type != timestamp_extension) {
            return value_error::extension;
        }
        const char* data = position_ + header;
        std::int64_t seconds = 0;
        std::uint32_t nanoseconds = 0;
        switch (length) {
        case 4:
            seconds = mp_load_u32(&data);
            break;
        case 8: {
            const std::uint64_t packed = mp_load_u64(&data);
            nanoseconds = static_cast<std::uint32_t>(packed >> 34);
            seconds = static_cast<std::int64_t>(packed & 0x3FFFFFFFFull);
            break;
        }
        case 12:
            nanoseconds = mp_load_u32(&data);
            seconds = static_cast<std::int64_t>(mp_load_u64(&data));
            break;
        default:
            return value_error::timestamp;
        }
        if (nanoseconds >= nanoseconds_per_second) {
            return value_error::timestamp;
        }
        position_ += header + length;
        value = make_timestamp(seconds, nanoseconds);
        return value_error::none;
    }

    const char* position_;
    const char* end_;
};

std::string value_error_text(value_error error) {
    switch (error) {
    case value_error::none:
        break;
    case value_error::malformed:
        return "Invalid MessagePack data.";
    case value_error::map_key:
        return "Reading map key as String failed.";
    case value_error::depth:
        return "Maximum nesting depth of " + std::to_string(max_messagepack_depth) + " exceeded.";
    case value_error::extension:
        return "Unsupported MessagePack extension type.";
    case value_error::timestamp:
        return "Invalid MessagePack timestamp.";
    }
    return {};
}

error read_failed(std::string_view field, value_error reason) {
    std::string message = "Reading '";
    message.append(field);
    message.append("' failed. ");
    message.append(value_error_text(reason));
    return make_error(std::move(message));
}

error read_as_failed(std::string_view field, std::string_view type) {
    std::string message = "Reading '";
    message.append(field);
    message.append("' as ");
    message.append(type);
    message.append(" failed.");
    return make_error(std::move(message));
}

error length_failed(std::string_view what, std::string_view field) {
    std::string message = "Reading ";
    message.append(what);
    message.append(" length for '");
    message.append(field);
    message.append("' failed.");
    return make_error(std::move(message));
}

error null_or_empty(std::string_view what) {
    std::string message = "Null or empty ";
    message.append(what);
    message.push_back('.');
    return make_error(std::move(message));
}

// The message array: its declared item count bounds the items read.
class message_reader {
public:
    message_reader(const body_reader& in, std::uint32_t items) : in_(in), items_(items) {}

    body_reader& in() noexcept { return in_; }

    // Claims the next item of the array; false when the array has no more.
    bool next_item() noexcept {
        if (items_ == 0) {
            return false;
        }
        --items_;
        return true;
    }
    [[nodiscard]] bool has_items() const noexcept { return items_ != 0; }

    expected<void> read_headers(message_headers& headers) {
        std::uint32_t count = 0;
        if (!next_item() || !in_.read_map_header(count)) {
            return length_failed("map", "headers");
        }
        // Each entry takes at least two bytes; a larger count fails below, entry by entry.
        headers.reserve(std::min<std::size_t>(count, in_.remaining() / 2));
        for (std::uint32_t i = 0; i < count; ++i) {
            std::optional<std::string_view> key;
            if (!in_.read_string(key)) {
                return read_as_failed("headers[" + std::to_string(i) + "].Key", "String");
            }
            if (!key || key->empty()) {
                return null_or_empty("key in header");
            }
            std::optional<std::string_view> value;
            if (!in_.read_string(value)) {
                return read_as_failed("headers[" + std::to_string(i) + "].Value", "String");
            }
            if (!value || value->empty()) {
                return null_or_empty("value in header");
            }
            headers.emplace_back(std::string(*key), std::string(*value));
        }
        return {};
    }

    expected<std::optional<std::string_view>> read_string(std::string_view field) {
        std::optional<std::string_view> text;
        if (!next_item() || !in_.read_string(text)) {
            return read_as_failed(field, "String");
        }
        return text;
    }

    // An id that must be present and not empty; `message` names the type in the error.
    expected<std::string> read_required_id(std::string_view message) {
        auto id = read_string("invocationId");
        if (!id) {
            return id.get_error();
        }
        if (!*id || (*id)->empty()) {
            return null_or_empty("invocation ID for " + std::string(message) + " message");
        }
        return std::string(**id);
    }

    expected<std::string> read_target(std::string_view message) {
        auto target = read_string("target");
        if (!target) {
            return target.get_error();
        }
        if (!*target || (*target)->empty()) {
            return null_or_empty("target for " + std::string(message) + " message");
        }
        return std::string(**target);
    }

    expected<hub_value> read_value(std::string_view field) {
        hub_value value;
        if (!next_item()) {
            return read_failed(field, value_error::malformed);
        }
        if (const auto error = in_.read_value(value); error != value_error::none) {
            return read_failed(field, error);
        }
        return value;
    }

    expected<json::array> read_arguments() {
        std::uint32_t count = 0;
        if (!next_item() || !in_.read_array_header(count)) {
            return length_failed("array", "arguments");
        }
        json::array arguments;
        arguments.reserve(std::min<std::size_t>(count, in_.remaining()));
        for (std::uint32_t i = 0; i < count; ++i) {
            if (const auto error = in_.read_value(arguments.emplace_back(nullptr));
                error != value_error::none) {
                return read_failed("arguments", error);
            }
        }
        return arguments;
    }

    // Only when the array has an item left: clients before stream support send one fewer.
    expected<std::vector<std::string>> read_stream_ids() {
        std::vector<std::string> ids;
        if (!has_items()) {
            return ids;
        }
        std::uint32_t count = 0;
        if (!next_item() || !in_.read_array_header(count)) {
            return length_failed("array", "streamIds");
        }
        ids.reserve(std::min<std::size_t>(count, in_.remaining()));
        for (std::uint32_t i = 0; i < count; ++i) {
            std::optional<std::string_view> id;
            if (!in_.read_string(id)) {
                return read_as_failed("streamIds", "String");
            }
            if (!id || id->empty()) {
                return null_or_empty("value in streamIds received");
            }
            ids.emplace_back(*id);
        }
        return ids;
    }

    expected<std::int64_t> read_sequence_id() {
        std::int64_t id = 0;
        if (!next_item() || !in_.read_int64(id)) {
            return read_as_failed("sequenceId", "Int64");
        }
        return id;
    }

private:
    body_reader in_;
    std::uint32_t items_;
};

// Invocation (type 1) and StreamInvocation (type 4) share the layout; only the id rules differ.
template <class Message>
expected<hub_message> read_call(message_reader& reader, std::string_view name) {
    Message m;
    if (auto headers = reader.read_headers(m.headers); !headers) {
        return headers.get_error();
    }
    if constexpr (std::is_same_v<Message, invocation_message>) {
        auto id = reader.read_string("invocationId");
        if (!id) {
            return id.get_error();
        }
        // An empty id asks for no Completion, exactly like nil.
        if (*id && !(*id)->empty()) {
            m.invocation_id = std::string(**id);
        }
    } else {
        auto id = reader.read_required_id(name);
        if (!id) {
            return id.get_error();
        }
        m.invocation_id = std::move(*id);
    }
    auto target = reader.read_target(name);
    if (!target) {
        return target.get_error();
    }
    m.target = std::move(*target);
    auto arguments = reader.read_arguments();
    if (!arguments) {
        return arguments.get_error();
    }
    m.arguments = std::move(*arguments);
    auto stream_ids = reader.read_stream_ids();
    if (!stream_ids) {
        return stream_ids.get_error();
    }
    m.stream_ids = std::move(*stream_ids);
    return hub_message(std::move(m));
}

expected<hub_message> read_stream_item(message_reader& reader) {
    stream_item_message m;
    if (auto headers = reader.read_headers(m.headers); !headers) {
        return headers.get_error();
    }
    auto id = reader.read_required_id("StreamItem");
    if (!id) {
        return id.get_error();
    }
    m.invocation_id = std::move(*id);
    auto item = reader.read_value("item");
    if (!item) {
        return item.get_error();
    }
    m.item = std::move(*item);
    return hub_message(std::move(m));
}

expected<hub_message> read_completion(message_reader& reader) {
    completion_message m;
    if (auto headers = reader.read_headers(m.headers); !headers) {
        return headers.get_error();
    }
    auto id = reader.read_required_id("Completion");
    if (!id) {
        return id.get_error();
    }
    m.invocation_id = std::move(*id);
    int kind = 0;
    if (!reader.next_item() || !reader.in().read_int32(kind)) {
        return read_as_failed("resultKind", "Int32");
    }
    switch (kind) {
    case result_kind_error: {
        auto text = reader.read_string("error");
        if (!text) {
            return text.get_error();
        }
        // nil leaves neither error nor result: a void completion, as in ASP.NET.
        if (*text) {
            m.error = std::string(**text);
        }
        break;
    }
    case result_kind_void:
        break;
    case result_kind_value: {
        auto result = reader.read_value("result");
        if (!result) {
            return result.get_error();
        }
        m.result = std::move(*result);
        break;
    }
    default:
        return make_error("Invalid invocation result kind.");
    }
    return hub_message(std::move(m));
}

expected<hub_message> read_cancel(message_reader& reader) {
    cancel_invocation_message m;
    if (auto headers = reader.read_headers(m.headers); !headers) {
        return headers.get_error();
    }
    auto id = reader.read_required_id("CancelInvocation");
    if (!id) {
        return id.get_error();
    }
    m.invocation_id = std::move(*id);
    return hub_message(std::move(m));
}

expected<hub_message> read_close(message_reader& reader) {
    close_message m;
    auto text = reader.read_string("error");
    if (!text) {
        return text.get_error();
    }
    if (*text) {
        m.error = std::string(**text);
    }
    // The JS client writes [7, nil]: allowReconnect only when the array has a third item.
    if (reader.next_item() && !reader.in().read_bool(m.allow_reconnect)) {
        return read_as_failed("allowReconnect", "Boolean");
    }
    return hub_message(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Writing

// Room for `size` more bytes at the end of `out`, for msgpuck's encoders.
char* grow(std::string& out, std::size_t size) {
    const std::size_t old_size = out.size();
    out.resize(old_size + size);
    return out.data() + old_size;
}

void put_array_header(std::size_t count, std::string& out) {
    const auto n = static_cast<std::uint32_t>(count);
    mp_encode_array(grow(out, mp_sizeof_array(n)), n);
}

void put_map_header(std::size_t count, std::string& out) {
    const auto n = static_cast<std::uint32_t>(count);
    mp_encode_map(grow(out, mp_sizeof_map(n)), n);
}

void put_nil(std::string& out) {
    out.push_back(static_cast<char>(0xc0));
}

void put_bool(bool flag, std::string& out) {
    out.push_back(static_cast<char>(flag ? 0xc3 : 0xc2));
}

void put_uint(std::uint64_t number, std::string& out) {
    mp_encode_uint(grow(out, mp_sizeof_uint(number)), number);
}

// The most compact format, unsigned ones for non-negative numbers, as MessagePack-CSharp writes.
void put_int(std::int64_t number, std::string& out) {
    if (number >= 0) {
        put_uint(static_cast<std::uint64_t>(number), out);
    } else {
        mp_encode_int(grow(out, mp_sizeof_int(number)), number);
    }
}

void put_double(double number, std::string& out) {
    mp_encode_double(grow(out, mp_sizeof_double(number)), number);
}

void put_string(std::string_view text, std::string& out) {
    const auto length = static_cast<std::uint32_t>(text.size());
    mp_encode_strl(grow(out, mp_sizeof_strl(length)), length);
    out.append(text);
}

void put_binary(std::string_view bytes, std::string& out) {
    const auto length = static_cast<std::uint32_t>(bytes.size());
    mp_encode_binl(grow(out, mp_sizeof_binl(length)), length);
    out.append(bytes);
}

// The smallest of the three layouts that holds the value: 32-bit seconds without nanoseconds,
// 34-bit seconds with 30-bit nanoseconds, or signed 64-bit seconds with 32-bit nanoseconds.
void put_timestamp(timestamp time, std::string& out) {
    const auto type = static_cast<char>(timestamp_extension);
    if (time.nanoseconds == 0 && time.seconds >= 0 && time.seconds <= 0xFFFFFFFF) {
        char* data = grow(out, 6);
        data[0] = static_cast<char>(0xd6);
        data[1] = type;
        mp_store_u32(data + 2, static_cast<std::uint32_t>(time.seconds));
    } else if (time.seconds >= 0 && time.seconds < (std::int64_t{1} << 34)) {
        char* data = grow(out, 10);
        data[0] = static_cast<char>(0xd7);
        data[1] = type;
        mp_store_u64(data + 2, (std::uint64_t{time.nanoseconds} << 34) |
                                   static_cast<std::uint64_t>(time.seconds));
    } else {
        char* data = grow(out, 15);
        data[0] = static_cast<char>(0xc7);
        data[1] = 12;
        data[2] = type;
        data = mp_store_u32(data + 3, time.nanoseconds);
        mp_store_u64(data, static_cast<std::uint64_t>(time.seconds));
    }
}

void put_value(const json::value& value, std::string& out);

void put_object(const json::object& object, std::string& out) {
    put_map_header(object.size(), out);
    for (const auto& member : object) {
        put_string(member.key(), out);
        put_value(member.value(), out);
    }
}

void put_value(const json::value& value, std::string& out) {
    switch (value.kind()) {
    case json::kind::null:
        put_nil(out);
        break;
    case json::kind::bool_:
        put_bool(value.get_bool(), out);
        break;
    case json::kind::int64:
        put_int(value.get_int64(), out);
        break;
    case json::kind::uint64:
        put_uint(value.get_uint64(), out);
        break;
    case json::kind::double_:
        put_double(value.get_double(), out);
        break;
    case json::kind::string:
        put_string(value.get_string(), out);
        break;
    case json::kind::array: {
        const auto& array = value.get_array();
        put_array_header(array.size(), out);
        for (const auto& element : array) {
            put_value(element, out);
        }
        break;
    }
    case json::kind::object: {
        const auto& object = value.get_object();
        if (may_be_tagged(object)) {
            if (const auto* bytes = as_binary(value)) {
                put_binary(*bytes, out);
                break;
            }
            if (const auto time = as_timestamp(value)) {
                put_timestamp(*time, out);
                break;
            }
        }
        put_object(object, out);
        break;
    }
    }
}

void put_headers(const message_headers& headers, std::string& out) {
    put_map_header(headers.size(), out);
    for (const auto& [name, value] : headers) {
        put_string(name, out);
        put_string(value, out);
    }
}

void put_arguments(const json::array& arguments, std::string& out) {
    put_array_header(arguments.size(), out);
    for (const auto& argument : arguments) {
        put_value(argument, out);
    }
}

void put_stream_ids(const std::vector<std::string>& ids, std::string& out) {
    put_array_header(ids.size(), out);
    for (const auto& id : ids) {
        put_string(id, out);
    }
}

void put_type(message_type type, std::string& out) {
    put_uint(static_cast<unsigned>(type), out);
}

void put_body(const invocation_message& m, std::string& out) {
    put_array_header(6, out);
    put_type(message_type::invocation, out);
    put_headers(m.headers, out);
    if (m.invocation_id && !m.invocation_id->empty()) {
        put_string(*m.invocation_id, out);
    } else {
        put_nil(out);
    }
    put_string(m.target, out);
    put_arguments(m.arguments, out);
    put_stream_ids(m.stream_ids, out);
}

void put_body(const stream_invocation_message& m, std::string& out) {
    put_array_header(6, out);
    put_type(message_type::stream_invocation, out);
    put_headers(m.headers, out);
    put_string(m.invocation_id, out);
    put_string(m.target, out);
    put_arguments(m.arguments, out);
    put_stream_ids(m.stream_ids, out);
}

void put_body(const stream_item_message& m, std::string& out) {
    put_array_header(4, out);
    put_type(message_type::stream_item, out);
    put_headers(m.headers, out);
    put_string(m.invocation_id, out);
    put_value(m.item, out);
}

void put_body(const completion_message& m, std::string& out) {
    // Never both: an error wins, as in the JSON writer.
    const int kind = m.error ? result_kind_error : m.result ? result_kind_value : result_kind_void;
    put_array_header(kind == result_kind_void ? 4 : 5, out);
    put_type(message_type::completion, out);
    put_headers(m.headers, out);
    put_string(m.invocation_id, out);
    put_uint(static_cast<unsigned>(kind), out);
    if (kind == result_kind_error) {
        put_string(*m.error, out);
    } else if (kind == result_kind_value) {
        put_value(*m.result, out);
    }
}

void put_body(const cancel_invocation_message& m, std::string& out) {
    put_array_header(3, out);
    put_type(message_type::cancel_invocation, out);
    put_headers(m.headers, out);
    put_string(m.invocation_id, out);
}

void put_body(const ping_message&, std::string& out) {
    put_array_header(1, out);
    put_type(message_type::ping, out);
}

void put_body(const close_message& m, std::string& out) {
    put_array_header(3, out);
    put_type(message_type::close, out);
    if (m.error && !m.error->empty()) {
        put_string(*m.error, out);
    } else {
        put_nil(out);
    }
    put_bool(m.allow_reconnect, out);
}

void put_body(const ack_message& m, std::string& out) {
    put_array_header(2, out);
    put_type(message_type::ack, out);
    put_int(m.sequence_id, out);
}

void put_body(const sequence_message& m, std::string& out) {
    put_array_header(2, out);
    put_type(message_type::sequence, out);
    put_int(m.sequence_id, out);
}

void put_body(const unknown_message& m, std::string& out) {
    put_array_header(1, out);
    put_int(m.type, out);
}

}  // namespace

expected<hub_message> parse_messagepack_message(std::string_view body) {
    body_reader in(body);
    std::uint32_t items = 0;
    if (!in.read_array_header(items)) {
        return length_failed("array", "message");
    }
    message_reader reader(in, items);
    int type = 0;
    if (!reader.next_item() || !reader.in().read_int32(type)) {
        return read_as_failed("messageType", "Int32");
    }
    switch (static_cast<message_type>(type)) {
    case message_type::invocation:
        return read_call<invocation_message>(reader, "Invocation");
    case message_type::stream_invocation:
        return read_call<stream_invocation_message>(reader, "StreamInvocation");
    case message_type::stream_item:
        return read_stream_item(reader);
    case message_type::completion:
        return read_completion(reader);
    case message_type::cancel_invocation:
        return read_cancel(reader);
    case message_type::ping:
        return hub_message(ping_message{});
    case message_type::close:
        return read_close(reader);
    case message_type::ack: {
        auto id = reader.read_sequence_id();
        if (!id) {
            return id.get_error();
        }
        return hub_message(ack_message{*id});
    }
    case message_type::sequence: {
        auto id = reader.read_sequence_id();
        if (!id) {
            return id.get_error();
        }
        return hub_message(sequence_message{*id});
    }
    }
    // Newer protocol versions may add types; receivers skip what they do not know.
    return hub_message(unknown_message{type});
}

void write_messagepack_message(const hub_message& message, std::string& out) {
    const std::size_t frame = begin_varint_frame(out);
    std::visit([&out](const auto& m) { put_body(m, out); }, message);
    end_varint_frame(out, frame);
}

void write_messagepack_invocation(std::string_view target, const json::array& arguments,
                                  std::string& out) {
    const std::size_t frame = begin_varint_frame(out);
    // [1, {}, nil, target, [arguments], []]
    static constexpr char head[] = {static_cast<char>(0x96), 0x01, static_cast<char>(0x80),
                                    static_cast<char>(0xc0)};
    out.append(head, sizeof head);
    put_string(target, out);
    put_arguments(arguments, out);
    out.push_back(static_cast<char>(0x90));
    end_varint_frame(out, frame);
}

void append_messagepack_value(const hub_value& value, std::string& out) {
    put_value(value, out);
}

expected<hub_value> parse_messagepack_value(std::string_view bytes) {
    body_reader reader(bytes);
    hub_value value;
    if (const auto error = reader.read_value(value); error != value_error::none) {
        return read_failed("value", error);
    }
    if (reader.remaining() != 0) {
        return read_failed("value", value_error::malformed);
    }
    return value;
}

}  // namespace switchboard::protocol
