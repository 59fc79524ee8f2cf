#include "routing/postgres/payload_table.hpp"

#include "core/ascii.hpp"
#include "routing/channel_codec.hpp"

namespace switchboard::routing::postgres {

namespace {

// 63: PostgreSQL's identifier limit (NAMEDATALEN - 1); longer names would be truncated.
const bounded_channel_codec& identifiers() {
    static const bounded_channel_codec codec(63);
    return codec;
}

}  // namespace

std::string_view hub_of(std::string_view logical_channel) noexcept {
    return logical_channel.substr(0, logical_channel.find(':'));
}

std::string payload_table_name(std::string_view hub) {
    std::string name;
    name.reserve(hub.size() + 9);
    for (const char c : hub) {
        name.push_back(ascii_lower(c));
    }
    name.append("_payloads");
    return identifiers().to_bus(name);
}

std::string payload_index_name(std::string_view table) {
    return identifiers().to_bus(std::string(table) + "_created_at");
}

}  // namespace switchboard::routing::postgres
