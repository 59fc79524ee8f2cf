// Publications as scripts write them: the ARGUMENTS-JSON of `switchboard publish` and its stdin
// lines, one JSON object per line, checked into routing::publication with a reason when bad.
#pragma once

#include "core/expected.hpp"
#include "routing/publisher.hpp"

#include <boost/json/array.hpp>

#include <string_view>

namespace switchboard::routing {

// A JSON array is the argument list; any other JSON value is the one argument (so a single
// array argument is written '[[1,2]]'); empty text is no arguments.
[[nodiscard]] expected<boost::json::array> parse_arguments(std::string_view text);

// One stdin line: {"target": "M", "arguments": [...], and at most one of "all": true,
// "user"/"users", "group"/"groups", "connection"/"connections"; "exclude": "id" or [...];
// "hub": "H"}. What the line leaves out comes from `defaults` (the command line); any other key
// is an error, so a misspelt "usr" never turns into a broadcast.
[[nodiscard]] expected<publication> parse_publication_line(std::string_view line,
                                                           const publication& defaults);

}  // namespace switchboard::routing
