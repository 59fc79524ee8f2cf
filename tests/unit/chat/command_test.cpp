#include "chat/command.hpp"

#include <gtest/gtest.h>

namespace switchboard::chat {
namespace {

command parsed(std::string_view line) {
    auto out = parse_command(line);
    EXPECT_TRUE(out) << line << ": " << (out ? "" : out.error_message());
    return out ? *out : command{};
}

std::string error_of(std::string_view line) {
    auto out = parse_command(line);
    EXPECT_FALSE(out) << line;
    return out ? "" : out.error_message();
}

TEST(chat_command, plain_text_goes_to_everyone_as_typed) {
    const auto c = parsed("  hello   world ");
    EXPECT_EQ(c.type, command::kind::say);
    EXPECT_EQ(c.text, "  hello   world ");
    EXPECT_EQ(parsed("hi\r").text, "hi");
}

TEST(chat_command, blank_lines_do_nothing) {
    EXPECT_EQ(parsed("").type, command::kind::none);
    EXPECT_EQ(parsed(" \t ").type, command::kind::none);
    EXPECT_EQ(parsed("\r").type, command::kind::none);
}

TEST(chat_command, double_slash_sends_text_starting_with_a_slash) {
    const auto c = parsed("//join is a command");
    EXPECT_EQ(c.type, command::kind::say);
    EXPECT_EQ(c.text, "/join is a command");
    EXPECT_EQ(parsed("//").text, "/");
}

TEST(chat_command, commands_without_arguments) {
    EXPECT_EQ(parsed("/help").type, command::kind::help);
    EXPECT_EQ(parsed("/who").type, command::kind::who);
    EXPECT_EQ(parsed("/quit").type, command::kind::quit);
    EXPECT_EQ(parsed("/QUIT  ").type, command::kind::quit);
    EXPECT_EQ(error_of("/quit now"), "usage: /quit");
}

TEST(chat_command, join_and_leave_take_one_group) {
    auto c = parsed("/join  lobby ");
    EXPECT_EQ(c.type, command::kind::join);
    EXPECT_EQ(c.target, "lobby");
    c = parsed("/leave lobby");
    EXPECT_EQ(c.type, command::kind::leave);
    EXPECT_EQ(c.target, "lobby");
    EXPECT_EQ(error_of("/join"), "usage: /join <group>");
    EXPECT_EQ(error_of("/join   "), "usage: /join <group>");
    EXPECT_EQ(error_of("/leave a b"), "usage: /leave <group>");
}

TEST(chat_command, group_and_dm_take_a_target_and_the_rest_as_text) {
    auto c = parsed("/group lobby hello  there ");
    EXPECT_EQ(c.type, command::kind::group);
    EXPECT_EQ(c.target, "lobby");
    EXPECT_EQ(c.text, "hello  there");
    c = parsed("/dm\tbob hi");
    EXPECT_EQ(c.type, command::kind::dm);
    EXPECT_EQ(c.target, "bob");
    EXPECT_EQ(c.text, "hi");
    EXPECT_EQ(error_of("/group lobby"), "usage: /group <group> <message>");
    EXPECT_EQ(error_of("/group"), "usage: /group <group> <message>");
    EXPECT_EQ(error_of("/dm bob   "), "usage: /dm <user> <message>");
}

TEST(chat_command, unknown_commands_are_named_in_the_error) {
    const auto message = error_of("/frobnicate x");
    EXPECT_NE(message.find("unknown command '/frobnicate'"), std::string::npos) << message;
    EXPECT_NE(message.find("/help"), std::string::npos) << message;
    EXPECT_FALSE(parse_command("/"));
    // A command's name is a whole word: no prefixes.
    EXPECT_FALSE(parse_command("/joinlobby"));
}

TEST(chat_command, help_lists_every_command) {
    for (const auto* name : {"/help", "/join", "/leave", "/group", "/dm", "/who", "/quit", "//"}) {
        EXPECT_NE(help_text().find(name), std::string_view::npos) << name;
    }
}

}  // namespace
}  // namespace switchboard::chat
