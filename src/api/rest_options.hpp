// Settings of the REST API (docs/rest-api.md); every field has a `switchboard serve` flag.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace switchboard::api {

struct rest_options {
    // Access keys that sign REST tokens (primary, secondary, ...). None, and no connection
    // string: the REST API is off, never open.
    std::vector<std::string> access_keys;
    // `Endpoint=https://host;AccessKey=...;Version=1.0;`: its key signs tokens and its host is
    // the one token audiences must name.
    std::string connection_string;
    // How long an existence check waits for another instance to say "here" before answering
    // 404. Each instance answers within one bus round trip (a few ms); 500 ms rides out a busy
    // Redis while keeping a "no" quick.
    std::chrono::milliseconds query_timeout{500};
    // The service takes bodies up to 1 MB; the hub endpoints keep their own, smaller limit.
    std::size_t max_body_size = 1024 * 1024;
};

}  // namespace switchboard::api
