#include "routing/postgres/identifier.hpp"

namespace switchboard::routing::postgres {

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (const char c : name) {
        if (c == '"') {
            out.push_back('"');
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace switchboard::routing::postgres
