// libFuzzer target for the handshake: any record either parses into a protocol and version or
// fails with a message, and the response carrying that message (which may quote the record)
// is valid JSON.
#include "protocol/handshake.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::protocol;
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const auto request = parse_handshake_request(input);
    if (request) {
        return 0;
    }
    if (request.error_message().empty()) {
        std::abort();  // a refusal must say why: the client shows it
    }
    // The error may echo client input: the response must stay one valid JSON record.
    std::string response;
    write_handshake_response(request.error_message(), response);
    if (response.empty() || response.back() != '\x1e') {
        std::abort();
    }
    boost::system::error_code ec;
    const auto parsed =
        boost::json::parse(std::string_view(response).substr(0, response.size() - 1), ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("error")) {
        std::abort();
    }
    return 0;
}
