#include "loadgen/sse_stream.hpp"
#include "loadgen/scenario.hpp"

#include <gtest/gtest.h>

#include <cstdio>

#include <string>
#include <vector>

namespace switchboard::loadgen {
namespace {

constexpr std::string_view switchboard_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";

// Feeds `bytes` in pieces of `step` bytes (0: at once) and collects the events' data.
std::vector<std::string> read_all(sse_stream_reader& reader, std::string_view bytes,
                                  std::size_t step = 0) {
    std::vector<std::string> events;
    const auto collect = [&](std::string_view data) { events.emplace_back(data); };
    if (step == 0) {
        reader.feed(bytes, collect);
        return events;
    }
    for (std::size_t at = 0; at < bytes.size(); at += step) {
        reader.feed(bytes.substr(at, step), collect);
    }
    return events;
}

TEST(sse_stream_reader, reads_switchboard_events_after_the_head) {
    std::string stream(switchboard_head);
    stream.append(
        "retry: 3000\n\nid: 1-0\nevent: bench\ndata: {\"channel\":\"c\",\"data\":\"1\"}\n\n"
        ": keep-alive\n\nid: 1-1\nevent: bench\ndata: second\ndata: ignored\n\n");
    for (const std::size_t step : {0, 1, 2, 3, 7, 64}) {
        sse_stream_reader reader;
        const auto events = read_all(reader, stream, step);
        ASSERT_EQ(events.size(), 2u) << "step " << step;
        EXPECT_EQ(events[0], R"({"channel":"c","data":"1"})");
        EXPECT_EQ(events[1], "second");
        EXPECT_TRUE(reader.open());
        EXPECT_FALSE(reader.chunked());
        EXPECT_EQ(reader.events(), 2u);
        EXPECT_EQ(reader.comments(), 1u);
    }
}

TEST(sse_stream_reader, is_not_open_before_the_head_ends) {
    sse_stream_reader reader;
    EXPECT_TRUE(reader.feed("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", {}));
    EXPECT_FALSE(reader.open());
    EXPECT_TRUE(reader.feed("\r", {}));
    EXPECT_FALSE(reader.open());
    EXPECT_TRUE(reader.feed("\n", {}));
    EXPECT_TRUE(reader.open());
}

TEST(sse_stream_reader, decodes_a_chunked_body_split_anywhere) {
    // Nchan's EventSource: chunked, CRLF line ends, a ": hi" comment first; chunk boundaries
    // fall inside lines and inside CRLF pairs.
    std::string stream =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Type: text/event-stream\r\n\r\n";
    const auto chunk = [&](std::string_view data) {
        char size[16];
        std::snprintf(size, sizeof size, "%zx", data.size());
        stream.append(size).append(";ext=1\r\n").append(data).append("\r\n");
    };
    chunk(": hi\r\n\r\n");
    chunk("id: 1:0\r\ndata: 0000000000");
    chunk("0000000042....\r");
    chunk("\n\r\nid: 2:0\r\ndata: x\r\n\r\n");
    for (const std::size_t step : {0, 1, 5, 13}) {
        sse_stream_reader reader;
        const auto events = read_all(reader, stream, step);
        ASSERT_EQ(events.size(), 2u) << "step " << step << ": " << reader.error();
        EXPECT_EQ(events[0], "00000000000000000042....");
        EXPECT_EQ(events[1], "x");
        EXPECT_TRUE(reader.chunked());
        EXPECT_EQ(reader.comments(), 1u);
        EXPECT_FALSE(reader.failed()) << reader.error();
    }
}

TEST(sse_stream_reader, the_last_chunk_ends_the_stream) {
    sse_stream_reader reader;
    EXPECT_FALSE(reader.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {}));
    EXPECT_TRUE(reader.failed());
    EXPECT_EQ(reader.error(), "the server ended the stream");
}

TEST(sse_stream_reader, refuses_other_statuses_and_broken_framing) {
    sse_stream_reader forbidden;
    EXPECT_FALSE(forbidden.feed("HTTP/1.1 403 Forbidden\r\n\r\n", {}));
    EXPECT_EQ(forbidden.error(), "HTTP 403 Forbidden");
    EXPECT_FALSE(forbidden.feed("more", {}));

    sse_stream_reader garbage;
    EXPECT_FALSE(garbage.feed("SSH-2.0-OpenSSH\r\n", {}));
    EXPECT_TRUE(garbage.failed());

    sse_stream_reader bad_size;
    EXPECT_FALSE(bad_size.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {}));
    EXPECT_EQ(bad_size.error(), "chunked body: bad chunk size");

    sse_stream_reader no_crlf;
    EXPECT_FALSE(
        no_crlf.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\n\nxx\r\n", {}));
    EXPECT_EQ(no_crlf.error(), "chunked body: no CRLF after a chunk");
}

TEST(sse_stream_reader, keeps_only_the_start_of_an_overlong_line) {
    sse_stream_reader reader(32);
    std::string stream(switchboard_head);
    stream.append("data: ").append(std::string(1000, '7')).append("\n\n");
    for (const std::size_t step : {0, 10}) {
        sse_stream_reader r(32);
        const auto events = read_all(r, stream, step);
        ASSERT_EQ(events.size(), 1u);
        // 32 bytes of line, less "data: ".
        EXPECT_EQ(events[0], std::string(26, '7')) << "step " << step;
    }
}

TEST(sse_stream_reader, takes_data_without_a_space_and_ignores_lookalike_fields) {
    sse_stream_reader reader;
    std::string stream(switchboard_head);
    stream.append("datum: no\ndata:yes\n\ndata\n\nevent: only\n\n");
    const auto events = read_all(reader, stream);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], "yes");
    EXPECT_EQ(events[1], "");
}

TEST(payload_of_event, unwraps_switchboards_envelope_and_passes_nchans_body) {
    EXPECT_EQ(payload_of_event(R"({"channel":"bench-1-sse0","data":"0042...."})"), "0042....\"}");
    EXPECT_EQ(payload_of_event("00000000000000000042"), "00000000000000000042");
    EXPECT_EQ(payload_of_event(R"({"channel":"c","data":{"x":1}})"), "");
    std::string text;
    write_payload(123'456'789, 64, text);
    std::string data = R"({"channel":"c","data":")";
    data.append(text).append("\"}");
    EXPECT_EQ(read_payload(payload_of_event(data)), 123'456'789u);
}

}  // namespace
}  // namespace switchboard::loadgen
