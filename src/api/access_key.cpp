#include "api/access_key.hpp"

#include "api/request.hpp"
#include "auth/jwt_keys.hpp"
#include "core/ascii.hpp"

#include <boost/url/parse.hpp>

#include <charconv>
#include <regex>
#include <vector>

namespace switchboard::api {

namespace {

// The host of a Host header or URL authority, lower case, without port (IPv6 keeps brackets).
std::string host_without_port(std::string_view authority) {
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        return ascii_lower(
            authority.substr(0, close == std::string_view::npos ? authority.size() : close + 1));
    }
    return ascii_lower(authority.substr(0, authority.find(':')));
}

// Decoded path without trailing '/'; nullopt when an escape is malformed.
std::optional<std::string> normalized_path(std::string_view raw) {
    raw = raw.substr(0, raw.find('?'));
    auto path = percent_decode(raw);
    if (!path) {
        return std::nullopt;
    }
    while (path->size() > 1 && path->back() == '/') {
        path->pop_back();
    }
    return path;
}

}  // namespace

expected<connection_string> parse_connection_string(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::size_t pieces = 0;
    while (!text.empty()) {
        const auto semi = text.find(';');
        const auto piece = text.substr(0, semi);
        text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
        if (piece.empty()) {
            continue;
        }
        ++pieces;
        const auto eq = piece.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        auto key = ascii_lower(ascii_trim(piece.substr(0, eq)));
        for (const auto& [seen, value] : pairs) {
            if (seen == key) {
                return make_error("duplicate key '" + key + "' in the connection string");
            }
        }
        pairs.emplace_back(std::move(key), std::string(ascii_trim(piece.substr(eq + 1))));
    }
    if (pieces < 2) {
        return make_error("expected 'Endpoint=...;AccessKey=...;Version=1.0;'");
    }
    connection_string out;
    for (const auto& [key, value] : pairs) {
        if (key == "endpoint") {
            out.endpoint = value;
        } else if (key == "accesskey") {
            out.access_key = value;
        } else if (key == "version") {
            static const std::regex version(R"(^1\.\d+(?:[\w\-.]+)?$)");
            if (!std::regex_match(value, version)) {
                return make_error("Version " + value + " is not supported.");
            }
        } else if (key == "port") {
            unsigned value_port = 0;
            const auto [end, ec] =
                std::from_chars(value.data(), value.data() + value.size(), value_port);
            if (ec != std::errc{} || end != value.data() + value.size() || value_port == 0 ||
                value_port > 65535) {
                return make_error("Port must be a number from 1 to 65535");
            }
            out.port = static_cast<std::uint16_t>(value_port);
        } else if (key == "authtype" && !value.empty()) {
            const auto type = ascii_lower(value);
            if (type == "aad" || type.starts_with("azure")) {
                return make_error("AuthType=" + value +
                                  " (Entra ID) is not supported: use an AccessKey");
            }
        }
    }
    while (!out.endpoint.empty() && out.endpoint.back() == '/') {
        out.endpoint.pop_back();
    }
    if (out.endpoint.empty()) {
        return make_error("the connection string has no Endpoint");
    }
    const auto url = boost::urls::parse_absolute_uri(out.endpoint);
    if (!url || (url->scheme() != "http" && url->scheme() != "https") || !url->has_authority() ||
        url->host().empty()) {
        return make_error("Endpoint must be an absolute http or https URL");
    }
    if (out.access_key.empty()) {
        return make_error("the connection string has no AccessKey");
    }
    return out;
}

std::optional<audience_key> audience_of_url(std::string_view url) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || !parsed->has_authority()) {
        return std::nullopt;
    }
    auto path = normalized_path(parsed->encoded_path());
    if (!path) {
        return std::nullopt;
    }
    return audience_key{ascii_lower(parsed->encoded_host()), std::move(*path)};
}

expected<access_key_auth> access_key_auth::make(const std::vector<std::string>& keys,
                                                std::string public_host) {
    auth::jwt_options options;
    for (const auto& text : keys) {
        auto key = auth::load_hmac_secret(text);
        if (!key) {
            return make_error("access key: " + key.error_message());
        }
        options.keys.push_back(std::move(*key));
    }
    if (options.keys.empty()) {
        return make_error("no access key");
    }
    // The SDK's tokens name the calling server in `nameid`; hand-written callers often send only
    // aud and exp. Who calls is not used: holding the key is the authorization.
    options.require_user = false;
    options.clock_skew = std::chrono::minutes(5);
    options.require_expiration = true;
    options.max_token_size = 4096;  // the SDK refuses to send larger ones
    return access_key_auth(std::make_shared<const auth::jwt_validator>(std::move(options)),
                           ascii_lower(public_host));
}

std::optional<auth_failure> access_key_auth::check(
    std::string_view authorization, std::string_view raw_path, std::string_view host_header,
    std::chrono::system_clock::time_point now) const {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() ||
        ascii_lower(authorization.substr(0, scheme.size())) != scheme) {
        return auth_failure{"Authorization: Bearer <token> is required"};
    }
    const auto token = ascii_trim(authorization.substr(scheme.size()));
    auto principal = validator_->validate(token, now);
    if (!principal) {
        return auth_failure{principal.error_message()};
    }
    const auto* aud = principal->claims.if_contains("aud");
    if (aud == nullptr || !aud->is_string()) {
        return auth_failure{"The audience is invalid: the token has no aud"};
    }
    const auto wanted_path = normalized_path(raw_path);
    const auto claimed = audience_of_url(aud->get_string());
    const auto host = public_host_.empty() ? host_without_port(host_header) : public_host_;
    if (!wanted_path || !claimed || claimed->path != *wanted_path || claimed->host != host) {
        return auth_failure{"The audience is invalid"};
    }
    return std::nullopt;
}

}  // namespace switchboard::api
