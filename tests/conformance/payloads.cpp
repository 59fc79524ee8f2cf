#include "payloads.hpp"

#include <boost/json/error.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

namespace conformance {

namespace json = boost::json;

namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_digit(char c) {
    const auto at = base64_alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// A property of `object` by case-insensitive name; null when absent.
const json::value* property(const json::object& object, std::string_view name) {
    for (const auto& entry : object) {
        if (same_name(entry.key(), name)) {
            return &entry.value();
        }
    }
    return nullptr;
}

// Parses exactly `digits` decimal digits at `text[at]`.
std::optional<int> fixed_number(std::string_view text, std::size_t at, std::size_t digits) {
    if (at + digits > text.size()) {
        return std::nullopt;
    }
    int value = 0;
    const char* first = text.data() + at;
    const auto [end, ec] = std::from_chars(first, first + digits, value);
    if (ec != std::errc{} || end != first + digits) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::string> canonical_guid(std::string_view text) {
    // 8-4-4-4-12 hexadecimal digits; .NET writes them in lower case.
    if (text.size() != 36) {
        return std::nullopt;
    }
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        const auto c = static_cast<unsigned char>(out[i]);
        if (dash ? c != '-' : !std::isxdigit(c)) {
            return std::nullopt;
        }
        out[i] = static_cast<char>(std::tolower(c));
    }
    return out;
}

json::error_code conversion_error() {
    json::error_code ec;
    ec = json::error::not_object;
    return ec;
}

}  // namespace

std::string encode_base64(const bytes& data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, data.size() - i);
        std::uint32_t group = static_cast<std::uint32_t>(data[i]) << 16;
        if (n > 1) {
            group |= static_cast<std::uint32_t>(data[i + 1]) << 8;
        }
        if (n > 2) {
            group |= data[i + 2];
        }
        out += base64_alphabet[(group >> 18) & 63];
        out += base64_alphabet[(group >> 12) & 63];
        out += n > 1 ? base64_alphabet[(group >> 6) & 63] : '=';
        out += n > 2 ? base64_alphabet[group & 63] : '=';
    }
    return out;
}

std::optional<bytes> decode_base64(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const std::size_t padding = !last ? 0 : text[i + 3] != '=' ? 0 : text[i + 2] != '=' ? 1 : 2;
        std::uint32_t group = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const int digit = j >= 4 - padding ? 0 : base64_digit(text[i + j]);
            if (digit < 0) {
                return std::nullopt;
            }
            group = (group << 6) | static_cast<std::uint32_t>(digit);
        }
        out.push_back(static_cast<std::uint8_t>(group >> 16));
        if (padding < 2) {
            out.push_back(static_cast<std::uint8_t>(group >> 8));
        }
        if (padding < 1) {
            out.push_back(static_cast<std::uint8_t>(group));
        }
    }
    return out;
}

std::string format_iso8601(timestamp time) {
    using namespace std::chrono;
    const auto day = floor<days>(time);
    const year_month_day date{day};
    const hh_mm_ss clock{floor<nanoseconds>(time - day)};
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02lld",
                  static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                  static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                  static_cast<int>(clock.minutes().count()),
                  static_cast<long long>(clock.seconds().count()));
    std::string out = text;
    // .NET keeps 100 ns ticks: at most 7 fraction digits, trailing zeros dropped.
    const auto ticks = clock.subseconds().count() / 100;
    if (ticks != 0) {
        std::snprintf(text, sizeof text, ".%07lld", static_cast<long long>(ticks));
        std::string fraction = text;
        while (fraction.back() == '0') {
            fraction.pop_back();
        }
        out += fraction;
    }
    return out + "Z";
}

std::optional<timestamp> parse_iso8601(std::string_view text) {
    using namespace std::chrono;
    const auto y = fixed_number(text, 0, 4);
    const auto mo = fixed_number(text, 5, 2);
    const auto d = fixed_number(text, 8, 2);
    const auto h = fixed_number(text, 11, 2);
    const auto mi = fixed_number(text, 14, 2);
    const auto s = fixed_number(text, 17, 2);
    if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' || *h > 23 ||
        *mi > 59 || *s > 59) {
        return std::nullopt;
    }
    const year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)},
                              day{static_cast<unsigned>(*d)}};
    if (!date.ok()) {
        return std::nullopt;
    }
    timestamp time = sys_days{date} + hours{*h} + minutes{*mi} + seconds{*s};
    std::size_t at = 19;
    if (at < text.size() && text[at] == '.') {
        long long scale = 100'000'000;  // nanoseconds per first fraction digit
        ++at;
        const std::size_t first = at;
        while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
            time += nanoseconds{(text[at] - '0') * scale};
            scale /= 10;
            ++at;
        }
        if (at == first) {
            return std::nullopt;
        }
    }
    const std::string_view zone = text.substr(at);
    if (zone == "Z" || zone == "z" || zone.empty()) {
        return time;
    }
    const auto zh = fixed_number(zone, 1, 2);
    const auto zm = fixed_number(zone, 4, 2);
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !zh || !zm) {
        return std::nullopt;
    }
    const minutes offset = hours{*zh} + minutes{*zm};
    return zone[0] == '+' ? time - offset : time + offset;
}

boost::json::value bytes_to_wire(const bytes& data) {
    return json::string(encode_base64(data));
}

std::optional<bytes> bytes_from_wire(const boost::json::value& wire) {
    if (!wire.is_string()) {
        return std::nullopt;
    }
    return decode_base64(wire.get_string());
}

boost::json::value time_to_wire(timestamp time) {
    return json::string(format_iso8601(time));
}

std::optional<timestamp> time_from_wire(const boost::json::value& wire) {
    if (!wire.is_string()) {
        return std::nullopt;
    }
    return parse_iso8601(wire.get_string());
}

void tag_invoke(json::value_from_tag, json::value& out, const custom_object& in) {
    out = json::object{{"Name", in.name}, {"Value", in.value}};
}

boost::system::result<custom_object> tag_invoke(json::try_value_to_tag<custom_object>,
                                                const json::value& in) {
    if (!in.is_object()) {
        return conversion_error();
    }
    custom_object out;
    if (const auto* name = property(in.get_object(), "Name"); name && !name->is_null()) {
        auto text = json::try_value_to<std::string>(*name);
        if (!text) {
            return text.error();
        }
        out.name = std::move(*text);
    }
    if (const auto* value = property(in.get_object(), "Value")) {
        auto number = json::try_value_to<int>(*value);
        if (!number) {
            return number.error();
        }
        out.value = *number;
    }
    return out;
}

void tag_invoke(json::value_from_tag, json::value& out, const complex_object& in) {
    out = json::object{
        {"String", in.string},
        {"IntArray", json::value_from(in.int_array)},
        {"ByteArray", bytes_to_wire(in.byte_array)},
        {"Guid", in.guid},
        {"DateTime", time_to_wire(in.date_time)},
    };
}

boost::system::result<complex_object> tag_invoke(json::try_value_to_tag<complex_object>,
                                                 const json::value& in) {
    if (!in.is_object()) {
        return conversion_error();
    }
    const auto& object = in.get_object();
    complex_object out;
    if (const auto* text = property(object, "String"); text && !text->is_null()) {
        auto converted = json::try_value_to<std::string>(*text);
        if (!converted) {
            return converted.error();
        }
        out.string = std::move(*converted);
    }
    if (const auto* numbers = property(object, "IntArray"); numbers && !numbers->is_null()) {
        auto converted = json::try_value_to<std::vector<int>>(*numbers);
        if (!converted) {
            return converted.error();
        }
        out.int_array = std::move(*converted);
    }
    if (const auto* data = property(object, "ByteArray"); data && !data->is_null()) {
        auto converted = bytes_from_wire(*data);
        if (!converted) {
            return conversion_error();
        }
        out.byte_array = std::move(*converted);
    }
    if (const auto* guid = property(object, "Guid")) {
        auto converted = guid->is_string() ? canonical_guid(guid->get_string()) : std::nullopt;
        if (!converted) {
            return conversion_error();
        }
        out.guid = std::move(*converted);
    }
    if (const auto* time = property(object, "DateTime")) {
        auto converted = time_from_wire(*time);
        if (!converted) {
            return conversion_error();
        }
        out.date_time = *converted;
    }
    return out;
}

}  // namespace conformance
