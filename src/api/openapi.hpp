// The OpenAPI document of the REST API (docs/openapi/rest.json), embedded at build time and
// served at GET /api/openapi.json.
#pragma once

#include <string_view>

namespace switchboard::api {

[[nodiscard]] std::string_view openapi_document() noexcept;

}  // namespace switchboard::api
