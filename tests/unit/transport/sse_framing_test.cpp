#include "transport/sse_session.hpp"

#include <gtest/gtest.h>

namespace switchboard::transport {
namespace {

std::string event(std::string_view payload) {
    std::string out;
    append_sse_event(payload, out);
    return out;
}

TEST(sse_framing, a_payload_without_newlines_is_one_data_line) {
    EXPECT_EQ(event("{\"type\":6}\x1e"), "data: {\"type\":6}\x1e\r\n\r\n");
}

TEST(sse_framing, two_messages_sent_together_form_one_event) {
    EXPECT_EQ(event("{\"type\":3,\"invocationId\":\"0\",\"result\":\"hi\"}\x1e{\"type\":6}\x1e"),
              "data: {\"type\":3,\"invocationId\":\"0\",\"result\":\"hi\"}\x1e{\"type\":6}\x1e"
              "\r\n\r\n");
}

TEST(sse_framing, newlines_split_the_payload_into_data_lines_and_drop_a_preceding_cr) {
    EXPECT_EQ(event("Hello\nWorld\r\nAgain"), "data: Hello\r\ndata: World\r\ndata: Again\r\n\r\n");
}

TEST(sse_framing, a_trailing_newline_ends_with_an_empty_data_line) {
    EXPECT_EQ(event("line\n"), "data: line\r\ndata: \r\n\r\n");
}

TEST(sse_framing, an_empty_payload_is_an_empty_data_line) {
    EXPECT_EQ(event(""), "data: \r\n\r\n");
}

}  // namespace
}  // namespace switchboard::transport
