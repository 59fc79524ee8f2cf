// libFuzzer target for PostgreSQL connection strings (--backplane): shapes, Npgsql quoting and
// host lists. Whatever parses renders a conninfo libpq reads back; redaction never fails.
#include "routing/postgres/connection_string.hpp"

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace switchboard::routing::postgres;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (input.find('\0') != std::string_view::npos) {
        return 0;  // a command-line argument holds no NUL
    }
    (void)redact_connection_string(input);
    (void)looks_like_connection_string(input);
    const auto parsed = parse_connection_string(input);
    if (parsed) {
        char* error = nullptr;
        PQconninfoOption* options = PQconninfoParse(parsed->conninfo.c_str(), &error);
        if (options == nullptr) {
            std::fprintf(stderr, "rendered conninfo rejected: %s\n", error ? error : "");
            std::abort();
        }
        PQconninfoFree(options);
        PQfreemem(error);
    }
    return 0;
}
