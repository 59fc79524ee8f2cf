#include "auth/bearer.hpp"

#include "core/ascii.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace switchboard::auth {

namespace {

std::string read_file(const std::string& path, const std::string& flag) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(flag + ": cannot read '" + path + "'");
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

switchboard::identity to_identity(principal who) {
    switchboard::identity out{std::move(who.user_id), std::move(who.roles), {}, who.expires};
    const auto text = [](const boost::json::value& value) {
        return value.is_string() ? std::string(value.get_string()) : boost::json::serialize(value);
    };
    for (const auto& [name, value] : who.claims) {
        if (value.is_array()) {
            for (const auto& element : value.get_array()) {
                out.claims.emplace_back(name, text(element));
            }
        } else {
            out.claims.emplace_back(name, text(value));
        }
    }
    return out;
}

std::optional<std::string> bearer_token(const http::request& req) {
    // RFC 7235: the scheme name is case-insensitive.
    constexpr std::string_view scheme = "Bearer ";
    const std::string_view header = req[boost::beast::http::field::authorization];
    if (ascii_istarts_with(header, scheme)) {
        auto token = header.substr(scheme.size());
        while (!token.empty() && token.front() == ' ') {
            token.remove_prefix(1);
        }
        return std::string(token);
    }
    const auto url = boost::urls::parse_origin_form(req.target());
    if (!url) {
        return std::nullopt;
    }
    for (const auto param : url->params()) {
        if (param.key == "access_token") {
            return std::string(param.value);
        }
    }
    return std::nullopt;
}

http::authenticate_hook make_jwt_authenticator(std::shared_ptr<const jwt_validator> validator) {
    return [validator =
                std::move(validator)](const http::request& req) -> expected<switchboard::identity> {
        const auto token = bearer_token(req);
        if (!token || token->empty()) {
            return make_error("no bearer token (Authorization header or access_token parameter)");
        }
        auto result = validator->validate(*token, std::chrono::system_clock::now());
        if (!result) {
            return result.get_error();
        }
        return to_identity(std::move(*result));
    };
}

std::shared_ptr<const jwt_validator> make_jwt_validator(const auth_options& options) {
    if (!options.enabled()) {
        return nullptr;
    }
    jwt_options settings;
    if (!options.jwt_secret.empty()) {
        auto key = load_hmac_secret(options.jwt_secret);
        if (!key) {
            throw std::runtime_error("--jwt-secret: " + key.error_message());
        }
        settings.keys.push_back(std::move(*key));
    }
    if (!options.jwt_public_key_file.empty()) {
        auto key = load_pem_public_key(read_file(options.jwt_public_key_file, "--jwt-public-key"));
        if (!key) {
            throw std::runtime_error("--jwt-public-key '" + options.jwt_public_key_file +
                                     "': " + key.error_message());
        }
        settings.keys.push_back(std::move(*key));
    }
    if (!options.jwks_file.empty()) {
        auto keys = load_jwks(read_file(options.jwks_file, "--jwks-file"));
        if (!keys) {
            throw std::runtime_error("--jwks-file '" + options.jwks_file +
                                     "': " + keys.error_message());
        }
        for (auto& key : *keys) {
            settings.keys.push_back(std::move(key));
        }
    }
    settings.issuer = options.issuer;
    settings.audience = options.audience;
    settings.clock_skew = std::chrono::duration_cast<std::chrono::seconds>(options.clock_skew);
    if (!options.user_claims.empty()) {
        settings.user_claims = options.user_claims;
    }
    if (!options.role_claims.empty()) {
        settings.role_claims = options.role_claims;
    }
    return std::make_shared<const jwt_validator>(std::move(settings));
}

}  // namespace switchboard::auth
