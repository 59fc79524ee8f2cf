#include "events/event_format.hpp"

#include "events/names.hpp"
#include "protocol/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace switchboard::events {

namespace json = boost::json;

using protocol::append_json_string;

namespace {

// `event: <type>\ndata: {"channel":<channel>,"data":<data>}\n\n`, the part every event shares.
void append_event_body(std::string_view type, std::string_view channel, std::string_view data_json,
                       std::string& out) {
    out += "event: ";
    out += type;
    out += "\ndata: {\"channel\":";
    append_json_string(channel, out);
    out += ",\"data\":";
    out += data_json;
    out += "}\n\n";
}

}  // namespace

std::string format_sse_event(event_id id, std::string_view type, std::string_view channel,
                             std::string_view data_json) {
    std::string out;
    out.reserve(48 + type.size() + channel.size() + data_json.size());
    out += "id: ";
    append_event_id(id, out);
    out += '\n';
    append_event_body(type, channel, data_json, out);
    return out;
}

std::string format_snapshot_event(std::string_view name, std::string_view channel,
                                  std::string_view data_json) {
    std::string out;
    append_event_body(name, channel, data_json, out);
    return out;
}

std::string format_reset_event(std::string_view channel) {
    std::string out = "event: reset\ndata: {\"channel\":";
    append_json_string(channel, out);
    out += ",\"reason\":\"history\"}\n\n";
    return out;
}

bus_event_frame frame_bus_event(std::string_view channel, std::string_view type,
                                std::string_view origin) {
    bus_event_frame frame;
    frame.before_data = "{\"channel\":";
    append_json_string(channel, frame.before_data);
    frame.before_data += ",\"type\":";
    append_json_string(type, frame.before_data);
    frame.before_data += ",\"data\":";
    if (!origin.empty()) {
        frame.after_data = ",\"origin\":";
        append_json_string(origin, frame.after_data);
    }
    frame.after_data += ",\"id\":\"";
    return frame;
}

std::string encode_bus_event(std::string_view channel, std::string_view type,
                             std::string_view data_json, event_id id, std::string_view origin) {
    const auto frame = frame_bus_event(channel, type, origin);
    auto out = frame.before_data;
    out += data_json;
    out += frame.after_data;
    append_event_id(id, out);
    out += bus_event_tail;
    return out;
}

expected<bus_event> decode_bus_event(std::string_view payload) {
    json::error_code ec;
    const auto value = json::parse(payload, ec);
    if (ec) {
        return make_error("not JSON: " + ec.message());
    }
    const auto* object = value.if_object();
    if (object == nullptr) {
        return make_error("not a JSON object");
    }
    const auto string_field = [object](std::string_view key) -> const json::string* {
        const auto* field = object->if_contains(key);
        return field == nullptr ? nullptr : field->if_string();
    };
    const auto* channel = string_field("channel");
    const auto* type = string_field("type");
    const auto* id_text = string_field("id");
    const auto* data = object->if_contains("data");
    if (channel == nullptr || type == nullptr || id_text == nullptr || data == nullptr) {
        return make_error("missing channel, type, data or id");
    }
    if (!valid_channel(*channel) || !valid_type(*type)) {
        return make_error("invalid channel or type");
    }
    const auto id = parse_event_id(*id_text);
    if (!id) {
        return make_error("malformed id");
    }
    return bus_event{std::string(*channel), std::string(*type), json::serialize(*data), *id};
}

bool is_bus_event_from(std::string_view payload, std::string_view origin) {
    // The tail is `,"origin":"<origin>","id":"<digits>-<digits>"}`, read backwards.
    const auto strip = [&payload](std::string_view suffix) {
        if (!payload.ends_with(suffix)) {
            return false;
        }
        payload.remove_suffix(suffix.size());
        return true;
    };
    if (origin.empty() || !strip(bus_event_tail)) {
        return false;
    }
    const auto id_start = payload.find_last_not_of("0123456789-");
    if (id_start == std::string_view::npos) {
        return false;
    }
    payload = payload.substr(0, id_start + 1);
    return strip(",\"id\":\"") && strip("\"") && strip(origin) && strip(",\"origin\":\"");
}

}  // namespace switchboard::events
