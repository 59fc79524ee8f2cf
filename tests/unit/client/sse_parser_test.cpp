// sse_parser: event data out of a text/event-stream body, however the reads split it.
#include "client/transport/sse_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::client::detail {
namespace {

std::vector<std::string> parse_whole(std::string_view stream, std::size_t limit = 1024) {
    sse_parser parser(limit);
    std::vector<std::string> events;
    EXPECT_FALSE(parser.feed(stream, events));
    return events;
}

// Every split of `stream` into two reads, and byte by byte, gives the same events.
void expect_events_any_split(std::string_view stream, const std::vector<std::string>& expected) {
    EXPECT_EQ(parse_whole(stream), expected);
    for (std::size_t at = 0; at <= stream.size(); ++at) {
        sse_parser parser(1024);
        std::vector<std::string> events;
        EXPECT_FALSE(parser.feed(stream.substr(0, at), events));
        EXPECT_FALSE(parser.feed(stream.substr(at), events));
        EXPECT_EQ(events, expected) << "split at " << at;
    }
    sse_parser parser(1024);
    std::vector<std::string> events;
    for (const char byte : stream) {
        EXPECT_FALSE(parser.feed(std::string_view(&byte, 1), events));
    }
    EXPECT_EQ(events, expected) << "byte by byte";
}

TEST(sse_parser, server_format_crlf) {
    // What the server writes: a comment first, then `data: ` events ending in \r\n\r\n.
    expect_events_any_split(":\r\ndata: {\"type\":6}\x1e\r\n\r\ndata: {}\x1e{}\x1e\r\n\r\n",
                            {"{\"type\":6}\x1e", "{}\x1e{}\x1e"});
}

TEST(sse_parser, lf_only_and_no_space) {
    expect_events_any_split("data:a\n\ndata:  b\n\n", {"a", " b"});
}

TEST(sse_parser, multi_line_data_joins_with_lf) {
    expect_events_any_split("data: line 1\r\ndata: line 2\r\ndata:\r\n\r\n", {"line 1\nline 2\n"});
}

TEST(sse_parser, comments_and_other_fields_ignored) {
    expect_events_any_split(": keep-alive\nevent: message\nid: 7\nretry: 10\ndata: x\nfoo\n\n",
                            {"x"});
}

TEST(sse_parser, no_data_no_event) {
    expect_events_any_split("\r\n\r\n: comment\r\n\r\nevent: x\r\n\r\n", {});
}

TEST(sse_parser, unfinished_event_is_held) {
    sse_parser parser(1024);
    std::vector<std::string> events;
    EXPECT_FALSE(parser.feed("data: a\r\n", events));
    EXPECT_TRUE(events.empty());
    EXPECT_GT(parser.buffered(), 0u);
    EXPECT_FALSE(parser.feed("\r\n", events));
    EXPECT_EQ(events, std::vector<std::string>{"a"});
    EXPECT_EQ(parser.buffered(), 0u);
}

TEST(sse_parser, event_at_the_limit_passes) {
    const std::string data(16, 'x');
    sse_parser parser(16);
    std::vector<std::string> events;
    EXPECT_FALSE(parser.feed("data: " + data + "\r\n\r\n", events));
    EXPECT_EQ(events, std::vector<std::string>{data});
}

TEST(sse_parser, oversize_event_fails) {
    sse_parser parser(16);
    std::vector<std::string> events;
    // Two lines of 10: 21 bytes of data with the joining \n.
    const auto error = parser.feed("data: 0123456789\r\ndata: 0123456789\r\n\r\n", events);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("maximum message size of 16 bytes"), std::string::npos);
    EXPECT_TRUE(events.empty());
    // Ignored from then on.
    EXPECT_FALSE(parser.feed("data: a\r\n\r\n", events));
    EXPECT_TRUE(events.empty());
}

TEST(sse_parser, endless_line_fails_without_growing) {
    sse_parser parser(16);
    std::vector<std::string> events;
    std::optional<std::string> error;
    for (int i = 0; i < 100 && !error; ++i) {
        error = parser.feed("data: xxxxxxxxxx", events);
    }
    ASSERT_TRUE(error);
    EXPECT_EQ(parser.buffered(), 0u);
}

TEST(sse_parser, oversize_split_at_every_byte) {
    const std::string stream = "data: " + std::string(40, 'y') + "\r\n\r\n";
    for (std::size_t at = 0; at <= stream.size(); ++at) {
        sse_parser parser(32);
        std::vector<std::string> events;
        auto error = parser.feed(std::string_view(stream).substr(0, at), events);
        if (!error) {
            error = parser.feed(std::string_view(stream).substr(at), events);
        }
        EXPECT_TRUE(error) << "split at " << at;
        EXPECT_TRUE(events.empty());
    }
}

}  // namespace
}  // namespace switchboard::client::detail
