#include "http/static_files.hpp"

#include <boost/url/parse.hpp>

#include <filesystem>
#include <string_view>

namespace switchboard::http {

namespace bhttp = beast::http;

namespace {

std::string_view mime_type(std::string_view path) {
    const auto dot = path.rfind('.');
    const auto ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot);
    if (ext == ".html")
        return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs")
        return "text/javascript; charset=utf-8";
    if (ext == ".css")
        return "text/css; charset=utf-8";
    if (ext == ".json" || ext == ".map")
        return "application/json";
    if (ext == ".svg")
        return "image/svg+xml";
    if (ext == ".png")
        return "image/png";
    if (ext == ".ico")
        return "image/x-icon";
    if (ext == ".woff2")
        return "font/woff2";
    return "application/octet-stream";
}

}  // namespace

std::optional<file_response> serve_static_file(const std::string& root, const request& req) {
    auto target = boost::urls::parse_origin_form(req.target());
    if (!target) {
        return std::nullopt;
    }
    std::string path;
    for (const auto segment : target->segments()) {
        // Segments are percent-decoded: "..", "." and embedded slashes could escape root.
        if (segment.empty() || segment == "." || segment == ".." ||
            segment.find('/') != std::string::npos || segment.find('\0') != std::string::npos) {
            if (segment.empty()) {
                continue;
            }
            return std::nullopt;
        }
        path += '/';
        path += segment;
    }
    if (path.empty() || target->path().ends_with('/')) {
        path += "/index.html";
    }
    const std::string full = root + path;
    std::error_code fs_error;
    if (!std::filesystem::is_regular_file(full, fs_error)) {
        return std::nullopt;
    }

    bhttp::file_body::value_type body;
    beast::error_code ec;
    body.open(full.c_str(), beast::file_mode::scan, ec);
    if (ec) {
        return std::nullopt;
    }
    const auto size = body.size();
    file_response res{std::piecewise_construct, std::make_tuple(std::move(body)),
                      std::make_tuple(bhttp::status::ok, req.version())};
    res.set(bhttp::field::content_type, mime_type(path));
    // The demo is small and changes with each build: revalidate instead of caching stale code.
    res.set(bhttp::field::cache_control, "no-cache");
    res.content_length(size);
    res.keep_alive(req.keep_alive());
    return res;
}

}  // namespace switchboard::http
