#include "chat/event_format.hpp"
#include "chat/chat_options.hpp"
#include "chat/event_queue.hpp"

#include <gtest/gtest.h>

#include <poll.h>

#include <regex>

namespace switchboard::chat {
namespace {

using kind = chat_event::kind;

chat_event make(kind type, std::string user = {}, std::string group = {}, std::string text = {}) {
    chat_event event{type, std::move(user), std::move(group), std::move(text)};
    return event;
}

// format_event without its "HH:MM:SS " prefix, which is checked once on its own.
std::string body(const chat_event& event, bool color = false) {
    const auto line = format_event(event, color);
    if (event.type == kind::notice || event.type == kind::error) {
        return line;
    }
    EXPECT_TRUE(std::regex_search(line, std::regex(color ? "^\x1b\\[2m[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                                         : "^[0-9]{2}:[0-9]{2}:[0-9]{2} ")))
        << line;
    return line.substr(line.find(' ') + 1);
}

TEST(chat_event_format, clock_is_hours_minutes_seconds) {
    EXPECT_TRUE(std::regex_match(format_clock(std::chrono::system_clock::now()),
                                 std::regex("[0-2][0-9]:[0-5][0-9]:[0-6][0-9]")));
}

TEST(chat_event_format, plain_lines) {
    EXPECT_EQ(body(make(kind::message, "alice", {}, "hi all")), "alice: hi all");
    EXPECT_EQ(body(make(kind::group_message, "alice", "lobby", "hi")), "[lobby] alice: hi");
    EXPECT_EQ(body(make(kind::direct_message, "bob", {}, "psst")), "[dm] bob: psst");
    EXPECT_EQ(body(make(kind::joined_group, "alice", "x")), "* alice joined group x");
    EXPECT_EQ(body(make(kind::left_group, "alice", "x")), "* alice left group x");
    EXPECT_EQ(body(make(kind::user_connected, "bob", {}, "conn-1")), "* bob connected");
    EXPECT_EQ(body(make(kind::user_disconnected, "bob", {}, "conn-1")), "* bob disconnected");
    EXPECT_EQ(body(make(kind::reconnecting)), "reconnecting…");
    EXPECT_EQ(body(make(kind::reconnecting, {}, {}, "socket closed")),
              "reconnecting… (socket closed)");
    EXPECT_EQ(body(make(kind::reconnected)), "reconnected");
    EXPECT_EQ(body(make(kind::disconnected, {}, {}, "gave up")), "disconnected: gave up");
    EXPECT_EQ(format_event(make(kind::notice, {}, {}, "hello"), false), "hello");
    EXPECT_EQ(format_event(make(kind::error, {}, {}, "Not allowed to join group 'x'."), false),
              "error: Not allowed to join group 'x'.");
}

TEST(chat_event_format, plain_lines_have_no_escape_bytes) {
    for (auto type : {kind::message, kind::direct_message, kind::group_message, kind::joined_group,
                      kind::reconnecting, kind::reconnected, kind::disconnected, kind::error}) {
        const auto line = format_event(make(type, "u", "g", "t"), false);
        EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    }
}

TEST(chat_event_format, colour_wraps_parts_in_sgr_sequences_and_resets) {
    const auto line = body(make(kind::group_message, "alice", "lobby", "hi"), true);
    EXPECT_NE(line.find("\x1b[36m[lobby]\x1b[0m"), std::string::npos) << line;
    EXPECT_NE(line.find("alice\x1b[0m: hi"), std::string::npos) << line;
    // A user keeps its colour.
    const auto first = body(make(kind::message, "carol", {}, "a"), true);
    const auto second = body(make(kind::message, "carol", {}, "b"), true);
    EXPECT_EQ(first.substr(0, first.find(':')), second.substr(0, second.find(':')));
    EXPECT_EQ(body(make(kind::reconnected), true), "\x1b[32mreconnected\x1b[0m");
    EXPECT_EQ(body(make(kind::disconnected, {}, {}, "bye"), true),
              "\x1b[31mdisconnected: bye\x1b[0m");
    EXPECT_EQ(format_event(make(kind::error, {}, {}, "no"), true),
              "\x1b[1m\x1b[31merror: no\x1b[0m");
}

TEST(chat_event_format, peers_cannot_send_terminal_controls) {
    const auto line = body(make(kind::message, "eve\x1b]0;owned\x07", {},
                                "a\x1b[2Jb\nc\x7f\xc2\x9b"
                                "1m"));
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    EXPECT_EQ(line, "eve^[]0;owned^G: a^[[2Jb^Jc^?\\u009b1m");
    // Other multi-byte text is left alone.
    EXPECT_EQ(printable("h\xc3\xa9 \xe2\x80\xa6"), "h\xc3\xa9 \xe2\x80\xa6");
    EXPECT_EQ(body(make(kind::joined_group, "a\x1b", "g\r")), "* a^[ joined group g^M");
}

TEST(chat_event_format, hub_errors_show_the_hubs_own_words) {
    EXPECT_EQ(hub_error_text("An unexpected error occurred invoking 'JoinGroup' on the server. "
                             "HubException: Not allowed to join group 'x'."),
              "Not allowed to join group 'x'.");
    EXPECT_EQ(hub_error_text("An unexpected error occurred invoking 'SendMessage' on the server."),
              "An unexpected error occurred invoking 'SendMessage' on the server.");
    EXPECT_EQ(hub_error_text("the connection is not active"), "the connection is not active");
}

TEST(chat_event_queue, is_bounded_and_counts_what_it_dropped) {
    event_queue queue(2);
    pollfd ready{queue.fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&ready, 1, 0), 0);
    for (int i = 0; i < 5; ++i) {
        queue.push(make(kind::message, "u", {}, std::to_string(i)));
    }
    EXPECT_EQ(::poll(&ready, 1, 0), 1);
    auto batch = queue.take();
    ASSERT_EQ(batch.events.size(), 2U);
    EXPECT_EQ(batch.events[1].text, "1");
    EXPECT_EQ(batch.dropped, 3U);
    EXPECT_FALSE(batch.closed);
    EXPECT_EQ(::poll(&ready, 1, 0), 0);
    EXPECT_EQ(queue.take().dropped, 0U);
}

TEST(chat_event_queue, closing_is_never_dropped) {
    event_queue queue(1);
    queue.push(make(kind::message));
    queue.push(make(kind::message));
    queue.close("gave up");
    queue.close("later reason");
    pollfd ready{queue.fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&ready, 1, 0), 1);
    const auto batch = queue.take();
    EXPECT_EQ(batch.events.size(), 1U);
    EXPECT_EQ(batch.closed.value_or(""), "gave up");
}

TEST(chat_options, transports_and_urls) {
    EXPECT_EQ(*parse_transport("websockets"), client::transport_type::websockets);
    EXPECT_EQ(*parse_transport("sse"), client::transport_type::server_sent_events);
    EXPECT_EQ(*parse_transport("longpolling"), client::transport_type::long_polling);
    EXPECT_EQ(*parse_transport("auto"), client::transport_type::all);
    EXPECT_FALSE(parse_transport("carrier-pigeon"));

    EXPECT_EQ(*chat_url("http://localhost:5000/hubs/chat", ""), "http://localhost:5000/hubs/chat");
    EXPECT_EQ(*chat_url("http://localhost:5000/hubs/chat", "alice"),
              "http://localhost:5000/hubs/chat?user=alice");
    EXPECT_EQ(*chat_url("https://h/hubs/chat?x=1&user=old", "a b&c"),
              "https://h/hubs/chat?x=1&user=a%20b%26c");
    EXPECT_FALSE(chat_url("localhost:5000", "a"));
    EXPECT_FALSE(chat_url("ftp://h/x", ""));
    EXPECT_FALSE(chat_url("not a url", ""));
}

}  // namespace
}  // namespace switchboard::chat

namespace switchboard::chat {
namespace {

TEST(chat_options, reconnect_delays) {
    using std::chrono::milliseconds;
    EXPECT_EQ(*parse_reconnect_delays("0,2s, 10s ,30s"),
              (std::vector<milliseconds>{milliseconds{0}, milliseconds{2'000}, milliseconds{10'000},
                                         milliseconds{30'000}}));
    EXPECT_EQ(*parse_reconnect_delays("250ms"), std::vector<milliseconds>{milliseconds{250}});
    EXPECT_TRUE(parse_reconnect_delays("none")->empty());
    EXPECT_EQ(chat_options{}.reconnect_delays, *parse_reconnect_delays("0,2s,10s,30s"));
    for (const auto* bad : {"", "1s,", "soon", "1s,-2s"}) {
        const auto parsed = parse_reconnect_delays(bad);
        EXPECT_FALSE(parsed) << bad;
    }
}

}  // namespace
}  // namespace switchboard::chat
