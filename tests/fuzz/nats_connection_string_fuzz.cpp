// libFuzzer target for NATS connection strings (--backplane): URL lists, credentials, query
// keys. Bad input is an std::invalid_argument, never a crash; a password or token that parsed
// and appears once in the input never survives redaction.
#include "routing/nats/connection_string.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

bool appears_once(std::string_view text, std::string_view part) {
    const auto first = text.find(part);
    return first != std::string_view::npos && text.find(part, first + 1) == std::string_view::npos;
}

void check_hidden(std::string_view input, const std::string& redacted, const std::string& secret) {
    // Short secrets also occur by chance in what redaction keeps ("nats", digits of a port),
    // and one holding '*' can be spelled by the "***" put in its place ("user:" + "***" holds
    // the secret "ser:***"). Otherwise a secret found once in the input cannot reappear.
    if (secret.size() >= 6 && secret.find('*') == std::string::npos &&
        appears_once(input, secret) && redacted.find(secret) != std::string::npos) {
        std::fprintf(stderr, "a secret survived redaction: %s\n", redacted.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::routing::nats;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.find('\0') != std::string_view::npos) {
        return 0;  // a command-line argument holds no NUL
    }
    const auto redacted = redact_connection_string(input);
    try {
        const auto parsed = parse_connection_string(input);
        check_hidden(input, redacted, parsed.password);
        check_hidden(input, redacted, parsed.token);
    } catch (const std::invalid_argument&) {
        // the documented outcome for bad input
    }
    return 0;
}
