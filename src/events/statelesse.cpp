#include "events/statelesse.hpp"

#include "core/ascii.hpp"
#include "events/names.hpp"
#include "protocol/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace switchboard::events {

namespace json = boost::json;

namespace {

using protocol::append_json_string;

// The exact (PascalCase) name first: what StateleSSE writes, found without a scan.
const json::value* find_property(const json::object& object, std::string_view name) {
    if (const auto* exact = object.if_contains(name)) {
        return exact;
    }
    for (const auto& entry : object) {
        if (ascii_iequals(entry.key(), name)) {
            return &entry.value();
        }
    }
    return nullptr;
}

bool looks_like_type_name(std::string_view name) {
    if (name.empty() || name.size() > max_type_size || name.front() < 'A' || name.front() > 'Z') {
        return false;
    }
    for (const char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string statelesse_origin_head(std::string_view prefix) {
    std::string out = "{\"Switchboard\":{\"prefix\":";
    append_json_string(prefix, out);
    out += ',';
    return out;
}

std::string encode_statelesse_envelope(std::string_view group_id, std::string_view payload_json,
                                       std::string_view published_at,
                                       const statelesse_origin* origin) {
    std::string out;
    out.reserve(96 + group_id.size() + payload_json.size());
    if (origin != nullptr) {
        out += statelesse_origin_head(origin->prefix);
        out += "\"type\":";
        append_json_string(origin->type, out);
        out += ",\"id\":";
        append_json_string(origin->id, out);
        out += "},\"GroupId\":";
    } else {
        out += "{\"GroupId\":";
    }
    append_json_string(group_id, out);
    out += ",\"Payload\":";
    out += payload_json;
    out += ",\"PublishedAt\":";
    append_json_string(published_at, out);
    out += '}';
    return out;
}

expected<statelesse_envelope> decode_statelesse_envelope(std::string_view payload) {
    json::error_code ec;
    const auto value = json::parse(payload, ec);
    if (ec) {
        return make_error("StateleSSE envelope is not JSON: " + ec.message());
    }
    const auto* object = value.if_object();
    if (object == nullptr) {
        return make_error("StateleSSE envelope is not a JSON object");
    }
    const auto* group = find_property(*object, "GroupId");
    const auto* data = find_property(*object, "Payload");
    if (group == nullptr || !group->is_string() || data == nullptr) {
        return make_error("StateleSSE envelope without GroupId or Payload");
    }
    const auto& group_id = group->get_string();
    if (group_id != statelesse_all_groups && !valid_channel(group_id)) {
        return make_error("StateleSSE GroupId is not a valid channel name");
    }
    statelesse_envelope out;
    out.group_id = std::string(group_id);
    out.payload_json = json::serialize(*data);
    if (const auto* at = find_property(*object, "PublishedAt"); at != nullptr && at->is_string()) {
        out.published_at = std::string(at->get_string());
    }
    // A malformed tag is treated as no tag: the envelope is still a valid StateleSSE message.
    if (const auto* tag = object->if_contains("Switchboard"); tag != nullptr && tag->is_object()) {
        const auto& fields = tag->get_object();
        const auto text = [&fields](std::string_view key) -> const json::string* {
            const auto* field = fields.if_contains(key);
            return field == nullptr ? nullptr : field->if_string();
        };
        if (const auto* prefix = text("prefix")) {
            statelesse_origin origin;
            origin.prefix = std::string(*prefix);
            if (const auto* type = text("type"); type != nullptr && valid_type(*type)) {
                origin.type = std::string(*type);
            }
            if (const auto* id = text("id")) {
                origin.id = std::string(*id);
            }
            out.origin = std::move(origin);
        }
    }
    return out;
}

std::string statelesse_event_name(std::string_view group_id, statelesse_type_rule rule) {
    if (rule == statelesse_type_rule::last_segment) {
        const auto colon = group_id.rfind(':');
        const auto last = colon == std::string_view::npos ? group_id : group_id.substr(colon + 1);
        if (looks_like_type_name(last)) {
            return std::string(last);
        }
    }
    return "message";
}

std::string format_dotnet_utc(std::chrono::system_clock::time_point when) {
    using namespace std::chrono;
    // .NET ticks are 100 ns: seven fractional digits.
    const auto ticks =
        duration_cast<duration<std::int64_t, std::ratio<1, 10'000'000>>>(when.time_since_epoch());
    auto seconds = ticks.count() / 10'000'000;
    auto fraction = ticks.count() % 10'000'000;
    if (fraction < 0) {
        fraction += 10'000'000;
        --seconds;
    }
    const auto days = floor<std::chrono::days>(sys_seconds{std::chrono::seconds{seconds}});
    const year_month_day date{days};
    const hh_mm_ss time{sys_seconds{std::chrono::seconds{seconds}} - days};
    char text[128];  // room for any int the format could print: no -Wformat-truncation
    const int length = std::snprintf(
        text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%07lldZ", static_cast<int>(date.year()),
        static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
        static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
        static_cast<int>(time.seconds().count()), static_cast<long long>(fraction));
    return std::string(text, length > 0 ? static_cast<std::size_t>(length) : 0);
}

}  // namespace switchboard::events
