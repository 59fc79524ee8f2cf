#include "routing/scaleout/channels.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::routing::scaleout {
namespace {

TEST(scaleout_channels, exact_strings_without_prefix) {
    const channels names("", "MyApp.ChatHub");
    EXPECT_EQ(names.all(), "MyApp.ChatHub:all");
    EXPECT_EQ(names.all_except(), "MyApp.ChatHub:all");
    EXPECT_EQ(names.connection("Xy3k9PqT0aBcDeFgHiJkLm"),
              "MyApp.ChatHub:connection:Xy3k9PqT0aBcDeFgHiJkLm");
    EXPECT_EQ(names.user("alice"), "MyApp.ChatHub:user:alice");
    EXPECT_EQ(names.group("room:42"), "MyApp.ChatHub:group:room:42");
    EXPECT_EQ(names.internal_groups(), "MyApp.ChatHub:internal:groups");
    EXPECT_EQ(names.internal_ack("web1_0f3c"), "MyApp.ChatHub:internal:ack:web1_0f3c");
    EXPECT_EQ(names.internal_return("web1_0f3c"), "MyApp.ChatHub:internal:return:web1_0f3c");
    EXPECT_EQ(names.return_address("web1_0f3c"), "MyApp.ChatHub:internal:return:web1_0f3c");
}

TEST(scaleout_channels, prefix_is_glued_on_without_separator) {
    const channels names("MyApp", "MyApp.ChatHub");
    EXPECT_EQ(names.all(), "MyAppMyApp.ChatHub:all");
    EXPECT_EQ(names.connection("c1"), "MyAppMyApp.ChatHub:connection:c1");
    EXPECT_EQ(names.user("u"), "MyAppMyApp.ChatHub:user:u");
    EXPECT_EQ(names.group("g"), "MyAppMyApp.ChatHub:group:g");
    EXPECT_EQ(names.internal_groups(), "MyAppMyApp.ChatHub:internal:groups");
    EXPECT_EQ(names.internal_ack("s"), "MyAppMyApp.ChatHub:internal:ack:s");
    EXPECT_EQ(names.internal_return("s"), "MyAppMyApp.ChatHub:internal:return:s");

    const channels colon("MyApp:", "Ns.Outer+ChatHub");
    EXPECT_EQ(colon.all(), "MyApp:Ns.Outer+ChatHub:all");
}

TEST(scaleout_channels, return_address_goes_inside_messages_without_prefix) {
    const channels names("P", "H");
    const std::string address = names.return_address("srv");
    EXPECT_EQ(address, "H:internal:return:srv");
    EXPECT_EQ(names.with_prefix(address), names.internal_return("srv"));
    EXPECT_EQ(names.with_prefix(address), "PH:internal:return:srv");
}

TEST(scaleout_channels, odd_names_round_trip_untouched) {
    const channels names("pre:", "Hub");
    for (const std::string name :
         {"*", "a:b", ":", "::group:x", "room:42:*", "", "Room ☃", "internal:groups", "[a-z]?"}) {
        // parse() views into its argument, so the wire names must outlive the results.
        const std::string group_channel = names.group(name);
        const std::string user_channel = names.user(name);
        const auto group = names.parse(group_channel);
        ASSERT_TRUE(group) << name;
        EXPECT_EQ(group->kind, channel_kind::group);
        EXPECT_EQ(group->id, name);

        const auto user = names.parse(user_channel);
        ASSERT_TRUE(user) << name;
        EXPECT_EQ(user->kind, channel_kind::user);
        EXPECT_EQ(user->id, name);
    }
    EXPECT_EQ(names.group("*"), "pre:Hub:group:*");
    EXPECT_EQ(names.user("*"), "pre:Hub:user:*");
}

TEST(scaleout_channels, parse_every_kind) {
    const channels names("P", "H");
    const auto check = [&](const std::string& wire, channel_kind kind, std::string_view id) {
        const auto parsed = names.parse(wire);
        ASSERT_TRUE(parsed) << wire;
        EXPECT_EQ(parsed->kind, kind) << wire;
        EXPECT_EQ(parsed->id, id) << wire;
    };
    check(names.all(), channel_kind::all, "");
    check(names.connection("c:1"), channel_kind::connection, "c:1");
    check(names.user("u"), channel_kind::user, "u");
    check(names.group("g"), channel_kind::group, "g");
    check(names.internal_groups(), channel_kind::internal_groups, "");
    check(names.internal_ack("s"), channel_kind::internal_ack, "s");
    check(names.internal_return("s"), channel_kind::internal_return, "s");
}

TEST(scaleout_channels, parse_refuses_foreign_channels) {
    const channels names("P", "H");
    EXPECT_FALSE(names.parse("H:all"));       // prefix missing
    EXPECT_FALSE(names.parse("PH2:all"));     // another hub
    EXPECT_FALSE(names.parse("POther:all"));  // another hub
    EXPECT_FALSE(names.parse("PH:allx"));     // not a kind
    EXPECT_FALSE(names.parse("PH:internal:groupsx"));
    EXPECT_FALSE(names.parse("PH:internal:other:s"));
    EXPECT_FALSE(names.parse("PH"));
    EXPECT_FALSE(names.parse(""));
}

}  // namespace
}  // namespace switchboard::routing::scaleout
