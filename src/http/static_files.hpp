// Static files (the demo page) from one folder, with no way out of it.
#pragma once

#include "http/server.hpp"

#include <boost/beast/http/file_body.hpp>

#include <optional>
#include <string>

namespace switchboard::http {

using file_response = beast::http::response<beast::http::file_body>;

// The file for a GET request under `root` ("/" is index.html), or nothing when there is
// no such file or the path tries to leave `root`.
std::optional<file_response> serve_static_file(const std::string& root, const request& req);

}  // namespace switchboard::http
