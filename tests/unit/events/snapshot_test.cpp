#include "events/snapshot.hpp"

#include <gtest/gtest.h>

namespace switchboard::events {
namespace {

TEST(events_snapshot, sources_are_pattern_equals_http_url) {
    const auto source = parse_snapshot_source("game:*=http://api:8080/games/{channel}?u={user}");
    ASSERT_TRUE(source) << source.error_message();
    EXPECT_EQ(source->pattern, "game:*");
    EXPECT_EQ(source->url, "http://api:8080/games/{channel}?u={user}");
    for (const auto* bad : {"game:*", "=http://x/", "game:*=https://x/{channel}",
                            "game:*=not a url", "game:*=http:///path"}) {
        EXPECT_FALSE(parse_snapshot_source(bad)) << bad;
    }
}

TEST(events_snapshot, placeholders_are_percent_encoded) {
    EXPECT_EQ(expand_snapshot_url("http://a/s/{channel}?u={user}", "game:4 2/x", "ann&bob"),
              "http://a/s/game%3A4%202%2Fx?u=ann%26bob");
    EXPECT_EQ(expand_snapshot_url("http://a/{nope}/{channel}", "c", ""), "http://a/{nope}/c");
}

}  // namespace
}  // namespace switchboard::events
