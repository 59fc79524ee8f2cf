#include "protocol/json_text.hpp"

#include "core/base64.hpp"
#include "protocol/hub_value.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

namespace switchboard::protocol {

namespace json = boost::json;

namespace {

error unexpected_token(std::string_view name) {
    std::string message = "Unexpected JSON Token Type '";
    message.append(name);
    message.append("'. Expected a JSON Object.");
    return make_error(std::move(message));
}

constexpr std::array<bool, 256> make_escape_table() {
    std::array<bool, 256> table{};
    for (int c = 0; c < 0x20; ++c) {
        table[c] = true;
    }
    table['"'] = true;
    table['\\'] = true;
    return table;
}

constexpr auto needs_escape = make_escape_table();

// Whether any of 8 bytes needs escaping, tested a word at a time: strings are most of a
// broadcast and nearly all of their bytes pass through unchanged.
bool block_needs_escape(const char* bytes) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t highs = 0x8080808080808080;
    std::uint64_t word;
    std::memcpy(&word, bytes, sizeof word);
    const std::uint64_t quote = word ^ (ones * '"');
    const std::uint64_t backslash = word ^ (ones * '\\');
    // Classic "has a byte below n" and "has a zero byte" tests; exact about whether one exists.
    const std::uint64_t control = (word - ones * 0x20) & ~word;
    const std::uint64_t quotes = (quote - ones) & ~quote;
    const std::uint64_t backslashes = (backslash - ones) & ~backslash;
    return ((control | quotes | backslashes) & highs) != 0;
}

template <class Integer>
void append_integer(Integer number, std::string& out) {
    char buffer[24];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
    out.append(buffer, result.ptr);
}

void append_double(double number, std::string& out) {
    if (!std::isfinite(number)) {
        out.append("null");
        return;
    }
    // "-0" would read back as the integer 0; the fraction keeps the sign through a relay.
    if (number == 0 && std::signbit(number)) {
        out.append("-0.0");
        return;
    }
    // Shortest form that reads back to the same double, e.g. 0.1 or 1e+21.
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, number);
    out.append(buffer, result.ptr);
}

// Binary and timestamp values of the MessagePack protocol (hub_value.hpp), rendered as ASP.NET's
// JSON protocol writes a byte[] and a DateTime: a base64 string and an ISO-8601 string.
bool append_tagged_value(const json::value& value, std::string& out) {
    if (const auto* bytes = as_binary(value)) {
        out.push_back('"');
        append_base64(std::string_view(bytes->data(), bytes->size()), out);
        out.push_back('"');
        return true;
    }
    if (const auto time = as_timestamp(value)) {
        out.push_back('"');
        append_iso8601(*time, out);
        out.push_back('"');
        return true;
    }
    return false;
}

void append_json_object(const json::object& object, std::string& out) {
    out.push_back('{');
    bool first = true;
    for (const auto& member : object) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_string(member.key(), out);
        out.push_back(':');
        append_json_value(member.value(), out);
    }
    out.push_back('}');
}

// Builds a value like boost::json::parser does, except for doubles: Boost 1.81 rounds about one
// decimal in fifteen to a neighbouring double, and a relayed number must reach the other
// clients unchanged, so the number text is converted again with the exact std::from_chars.
class value_builder {
public:
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    value_builder(unsigned char* buffer, std::size_t size)
        : stack_(json::storage_ptr(), buffer, size) {}

    json::value release() { return stack_.release(); }

    bool on_document_begin(json::error_code&) {
        stack_.reset();
        return true;
    }
    bool on_document_end(json::error_code&) { return true; }
    bool on_array_begin(json::error_code&) { return true; }
    bool on_array_end(std::size_t size, json::error_code&) {
        stack_.push_array(size);
        return true;
    }
    bool on_object_begin(json::error_code&) { return true; }
    bool on_object_end(std::size_t size, json::error_code&) {
        // Keeps the last value of a duplicated key.
        stack_.push_object(size);
        return true;
    }
    bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
        stack_.push_chars(part);
        return true;
    }
    bool on_string(json::string_view last, std::size_t, json::error_code&) {
        stack_.push_string(last);
        return true;
    }
    bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
        stack_.push_chars(part);
        return true;
    }
    bool on_key(json::string_view last, std::size_t, json::error_code&) {
        stack_.push_key(last);
        return true;
    }
    bool on_number_part(json::string_view part, json::error_code&) {
        number_.append(part.data(), part.size());
        return true;
    }
    bool on_int64(std::int64_t number, json::string_view, json::error_code&) {
        number_.clear();
        stack_.push_int64(number);
        return true;
    }
    bool on_uint64(std::uint64_t number, json::string_view, json::error_code&) {
        number_.clear();
        stack_.push_uint64(number);
        return true;
    }
    bool on_double(double number, json::string_view last, json::error_code&) {
        std::string_view text(last.data(), last.size());
        if (!number_.empty()) {
            number_.append(last.data(), last.size());
            text = number_;
        }
        double exact = 0;
        const auto result = std::from_chars(text.data(), text.data() + text.size(), exact);
        // Out of range (1e400) keeps Boost's infinity or zero.
        if (result.ec == std::errc() && result.ptr == text.data() + text.size()) {
            number = exact;
        }
        number_.clear();
        stack_.push_double(number);
        return true;
    }
    bool on_bool(bool flag, json::error_code&) {
        stack_.push_bool(flag);
        return true;
    }
    bool on_null(json::error_code&) {
        stack_.push_null();
        return true;
    }
    // Comments are disabled in the options; these only satisfy the handler interface.
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    json::value_stack stack_;
    std::string number_;  // a number split across input buffers; empty for whole records
};

}  // namespace

expected<json::object> read_json_object(std::string_view text) {
    const auto start = text.find_first_not_of(" \t\r\n");
    // Utf8JsonReader rejects an array on its first token, before reading (or failing on) the
    // rest; match that instead of reporting a malformed array as unreadable.
    if (start != std::string_view::npos && text[start] == '[') {
        return unexpected_token("Array");
    }

    json::parse_options options;
    options.max_depth = max_json_depth;
    // Small messages, the common case, build their values without allocating the stack.
    unsigned char stack[512];
    json::basic_parser<value_builder> parser(options, stack, sizeof stack);
    json::error_code ec;
    // write_some stops at the end of the first complete JSON text: trailing bytes are ignored.
    parser.write_some(false, text.data(), text.size(), ec);
    if (ec || !parser.done()) {
        return make_error("Error reading JSON.");
    }
    json::value value = parser.handler().release();
    if (auto* object = value.if_object()) {
        return std::move(*object);
    }
    return unexpected_token(json_token_name(value));
}

std::string_view json_token_name(const json::value& value) noexcept {
    switch (value.kind()) {
    case json::kind::null:
        return "Null";
    case json::kind::bool_:
        return value.get_bool() ? "True" : "False";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
        return "Number";
    case json::kind::string:
        return "String";
    case json::kind::array:
        return "Array";
    case json::kind::object:
        return "Object";
    }
    return "None";
}

void append_json_string(std::string_view text, std::string& out) {
    static constexpr char hex[] = "0123456789ABCDEF";
    const char* data = text.data();
    const std::size_t size = text.size();
    out.push_back('"');
    std::size_t run_start = 0;
    std::size_t i = 0;
    while (i < size) {
        while (i + 8 <= size && !block_needs_escape(data + i)) {
            i += 8;
        }
        const std::size_t block_end = std::min(i + 8, size);
        for (; i < block_end; ++i) {
            const auto c = static_cast<unsigned char>(data[i]);
            if (!needs_escape[c]) {
                continue;
            }
            out.append(data + run_start, i - run_start);
            run_start = i + 1;
            out.push_back('\\');
            switch (c) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '\b':
                out.push_back('b');
                break;
            case '\f':
                out.push_back('f');
                break;
            case '\n':
                out.push_back('n');
                break;
            case '\r':
                out.push_back('r');
                break;
            case '\t':
                out.push_back('t');
                break;
            default: {
                const char escape[] = {'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                out.append(escape, sizeof escape);
                break;
            }
            }
        }
    }
    out.append(data + run_start, size - run_start);
    out.push_back('"');
}

void append_json_array(const json::array& array, std::string& out) {
    out.push_back('[');
    bool first = true;
    for (const auto& element : array) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_value(element, out);
    }
    out.push_back(']');
}

void append_json_value(const json::value& value, std::string& out) {
    switch (value.kind()) {
    case json::kind::null:
        out.append("null");
        break;
    case json::kind::bool_:
        out.append(value.get_bool() ? "true" : "false");
        break;
    case json::kind::int64:
        append_integer(value.get_int64(), out);
        break;
    case json::kind::uint64:
        append_integer(value.get_uint64(), out);
        break;
    case json::kind::double_:
        append_double(value.get_double(), out);
        break;
    case json::kind::string:
        append_json_string(value.get_string(), out);
        break;
    case json::kind::array:
        append_json_array(value.get_array(), out);
        break;
    case json::kind::object:
        // One size and one byte test keep ordinary objects off the tagged path.
        if (may_be_tagged(value.get_object()) && append_tagged_value(value, out)) {
            break;
        }
        append_json_object(value.get_object(), out);
        break;
    }
}

}  // namespace switchboard::protocol
