// Initial state from an upstream service: a new subscription to a channel matching a
// configured pattern starts with what GET <url> answers (StateleSSE's GetGameState callback,
// for state that lives in a service that is not C++).
#pragma once

#include "core/expected.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace switchboard::events {

// "PATTERN=URL" as --events-snapshot takes it; the URL is http:// and may hold {channel} and
// {user}, replaced (percent-encoded) per subscription.
struct snapshot_source {
    std::string pattern;
    std::string url;
};
expected<snapshot_source> parse_snapshot_source(std::string_view text);

// `url` with {channel} and {user} filled in, each percent-encoded.
std::string expand_snapshot_url(std::string_view url, std::string_view channel,
                                std::string_view user);

// GETs `url` (http only) with `authorization` forwarded when not empty; `done` gets the body of
// a 200 that parses as JSON (re-serialized), or why not. On `executor`.
void fetch_snapshot(boost::asio::any_io_executor executor, std::string url,
                    std::string authorization, std::chrono::milliseconds timeout,
                    std::size_t body_limit, std::function<void(expected<std::string>)> done);

}  // namespace switchboard::events
