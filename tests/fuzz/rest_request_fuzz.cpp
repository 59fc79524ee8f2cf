// libFuzzer target for the REST API's untrusted input before any token is checked: request
// targets (path segments, %-escapes, query parameters, name rules) for every method, and the
// connection strings and audience URLs the access-key check parses.
#include "api/access_key.hpp"
#include "api/request.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::api;
    using verb = boost::beast::http::verb;
    if (size == 0) {
        return 0;
    }
    static constexpr verb methods[] = {verb::get, verb::head, verb::post, verb::put, verb::delete_};
    const auto method = methods[data[0] % std::size(methods)];
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    for (const std::string& target : {std::string(input), "/api/hubs/chat/" + std::string(input)}) {
        const auto result = parse_request(method, target);
        if (!result.request) {
            if (result.failure.status < 400 || result.failure.status > 405 ||
                result.failure.message.empty()) {
                std::abort();  // every refusal is a 4xx with a reason
            }
            continue;
        }
        const auto& request = *result.request;
        // What parsed obeys the rules it was checked against.
        if ((!request.group.empty() && !check_group_name(request.group).empty()) ||
            (!request.user.empty() && !check_user_id(request.user).empty()) ||
            (!request.connection_id.empty() &&
             !check_connection_id(request.connection_id).empty()) ||
            request.excluded.size() > max_excluded ||
            (request.ttl && (*request.ttl < 0 || *request.ttl > max_ttl_seconds))) {
            std::abort();
        }
        for (const char c : request.hub) {
            if (c >= 'A' && c <= 'Z') {
                std::abort();  // the hub key is lower case
            }
        }
    }
    (void)parse_connection_string(input);
    if (const auto audience = audience_of_url(input)) {
        if (audience->path.size() > 1 && audience->path.back() == '/') {
            std::abort();  // trailing '/' is dropped
        }
    }
    return 0;
}
