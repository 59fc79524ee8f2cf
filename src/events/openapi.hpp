// The OpenAPI document of the event streams (docs/openapi/events.json), embedded at build time
// and served at GET /api/events/openapi.json.
#pragma once

#include <string_view>

namespace switchboard::events {

[[nodiscard]] std::string_view openapi_document() noexcept;

}  // namespace switchboard::events
