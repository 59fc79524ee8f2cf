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
        {"ByteArray", json::value_from(in.byte_array)},
        {"Guid", in.guid},
        {"DateTime", json::value_from(in.date_time)},
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
        auto converted = json::try_value_to<switchboard::protocol::binary>(*data);
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
        auto converted = json::try_value_to<switchboard::protocol::timestamp>(*time);
        if (!converted) {
            return conversion_error();
        }
        out.date_time = *converted;
    }
    return out;
}

}  // namespace conformance
