#include "api/request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::api {
namespace {

using verb = boost::beast::http::verb;

api_request parsed(verb method, std::string_view target) {
    auto result = parse_request(method, target);
    EXPECT_TRUE(result.request.has_value()) << target << ": " << result.failure.message;
    return result.request.value_or(api_request{});
}

unsigned failure(verb method, std::string_view target) {
    auto result = parse_request(method, target);
    EXPECT_FALSE(result.request.has_value()) << target;
    return result.failure.status;
}

TEST(rest_paths, every_2022_06_01_operation) {
    const auto v = "?api-version=2022-06-01";
    const auto path = [&](std::string p) { return "/api/hubs/chat" + p + v; };
    EXPECT_EQ(parsed(verb::head, "/api/health?api-version=2022-06-01").op, operation::health);
    EXPECT_EQ(parsed(verb::post, path("/:send")).op, operation::broadcast);
    EXPECT_EQ(parsed(verb::post, path("/users/u1/:send")).op, operation::send_to_user);
    EXPECT_EQ(parsed(verb::post, path("/connections/c1/:send")).op, operation::send_to_connection);
    EXPECT_EQ(parsed(verb::post, path("/groups/g1/:send")).op, operation::send_to_group);
    EXPECT_EQ(parsed(verb::put, path("/groups/g1/connections/c1")).op,
              operation::add_connection_to_group);
    EXPECT_EQ(parsed(verb::delete_, path("/groups/g1/connections/c1")).op,
              operation::remove_connection_from_group);
    EXPECT_EQ(parsed(verb::delete_, path("/connections/c1/groups")).op,
              operation::remove_connection_from_all_groups);
    EXPECT_EQ(parsed(verb::put, path("/users/u1/groups/g1")).op, operation::add_user_to_group);
    EXPECT_EQ(parsed(verb::delete_, path("/users/u1/groups/g1")).op,
              operation::remove_user_from_group);
    EXPECT_EQ(parsed(verb::get, path("/users/u1/groups/g1")).op, operation::user_in_group);
    EXPECT_EQ(parsed(verb::head, path("/users/u1/groups/g1")).op, operation::user_in_group);
    EXPECT_EQ(parsed(verb::delete_, path("/users/u1/groups")).op,
              operation::remove_user_from_all_groups);
    EXPECT_EQ(parsed(verb::head, path("/connections/c1")).op, operation::connection_exists);
    EXPECT_EQ(parsed(verb::head, path("/users/u1")).op, operation::user_exists);
    EXPECT_EQ(parsed(verb::head, path("/groups/g1")).op, operation::group_exists);
    EXPECT_EQ(parsed(verb::delete_, path("/connections/c1")).op, operation::close_connection);
    EXPECT_EQ(parsed(verb::post, path("/:closeConnections")).op, operation::close_all);
    EXPECT_EQ(parsed(verb::post, path("/groups/g1/:closeConnections")).op, operation::close_group);
    EXPECT_EQ(parsed(verb::post, path("/users/u1/:closeConnections")).op, operation::close_user);
}

TEST(rest_paths, presence_reads_with_cursor_and_limit) {
    const auto users = parsed(verb::get, "/api/hubs/chat/users?api-version=2022-06-01");
    EXPECT_EQ(users.op, operation::online_users);
    EXPECT_EQ(users.limit, 100U);
    EXPECT_TRUE(users.cursor.empty());
    const auto page = parsed(verb::get, "/api/hubs/chat/users/u%2F1/connections?cursor=17&limit=5");
    EXPECT_EQ(page.op, operation::user_connections);
    EXPECT_EQ(page.user, "u/1");
    EXPECT_EQ(page.cursor, "17");
    EXPECT_EQ(page.limit, 5U);
    const auto members = parsed(verb::get, "/api/hubs/chat/groups/g1/members");
    EXPECT_EQ(members.op, operation::group_members);
    EXPECT_EQ(members.group, "g1");
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/users"), 405U);
    EXPECT_EQ(failure(verb::get, "/api/hubs/chat/users?limit=0"), 400U);
    EXPECT_EQ(failure(verb::get, "/api/hubs/chat/users?limit=1001"), 400U);
    EXPECT_EQ(failure(verb::get, "/api/hubs/chat/users?limit=x"), 400U);
    EXPECT_EQ(failure(verb::get, "/api/hubs/chat/users?cursor=" + std::string(300, 'c')), 400U);
}

TEST(rest_paths, v1_paths_and_their_success_codes) {
    auto r = parsed(verb::post, "/api/v1/hubs/chat");
    EXPECT_EQ(r.op, operation::broadcast);
    EXPECT_TRUE(r.v1);
    EXPECT_EQ(parsed(verb::post, "/api/v1/hubs/chat/users/u").op, operation::send_to_user);
    EXPECT_EQ(parsed(verb::get, "/api/v1/hubs/chat/users/u").op, operation::user_exists);
    EXPECT_EQ(parsed(verb::post, "/api/v1/hubs/chat/groups/g").op, operation::send_to_group);
    r = parsed(verb::put, "/api/v1/hubs/chat/groups/g/users/u?ttl=30");
    EXPECT_EQ(r.op, operation::add_user_to_group);
    EXPECT_EQ(r.ttl, 30);
    EXPECT_EQ(success_status(r), 202u);
    r = parsed(verb::delete_, "/api/v1/hubs/chat/connections/c?reason=bye");
    EXPECT_EQ(r.op, operation::close_connection);
    EXPECT_EQ(success_status(r), 202u);
    EXPECT_EQ(parsed(verb::head, "/api/v1/health").op, operation::health);
    EXPECT_EQ(success_status(parsed(verb::delete_, "/api/hubs/chat/users/u/groups/g")), 204u);
    EXPECT_EQ(success_status(parsed(verb::put, "/api/hubs/chat/users/u/groups/g")), 200u);
}

TEST(rest_paths, names_are_decoded_after_the_split_and_keep_their_case) {
    auto r = parsed(verb::post, "/api/hubs/Chat/groups/G%2F1%20x/:send?excluded=a&excluded=b%2Bc");
    EXPECT_EQ(r.hub, "chat");
    EXPECT_EQ(r.group, "G/1 x");
    EXPECT_EQ(r.excluded, (std::vector<std::string>{"a", "b+c"}));
    r = parsed(verb::post, "/api/hubs/chat/:send?application=MyApp&api-version=2022-06-01");
    EXPECT_EQ(r.hub, "myapp_chat");
    r = parsed(verb::post, "/API/HUBS/chat/USERS/Alice/:SEND");
    EXPECT_EQ(r.user, "Alice");
    EXPECT_EQ(r.op, operation::send_to_user);
}

TEST(rest_paths, unknown_paths_404_wrong_methods_405) {
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat"), 404u);  // 2022-06-01 needs /:send
    EXPECT_EQ(failure(verb::get, "/api/hubs/chat/:send"), 405u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/teams/x/:send"), 404u);
    EXPECT_EQ(failure(verb::post, "/api/health"), 405u);
    EXPECT_EQ(failure(verb::post, "/other"), 404u);
    EXPECT_EQ(failure(verb::put, "/api/hubs/chat/connections/c1"), 405u);
}

TEST(rest_paths, bad_names_and_values_are_400) {
    EXPECT_EQ(failure(verb::post, "/api/hubs/1chat/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/ch%2Fat/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/" + std::string(129, 'h') + "/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/groups/%0A/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/groups/../:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/groups/%2E%2E/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/groups/%20%20/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/groups/" + std::string(1025, 'g') + "/:send"),
              400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/users/%ZZ/:send"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/users/%C3%28/:send"), 400u);  // not UTF-8
    EXPECT_EQ(failure(verb::put, "/api/hubs/chat/users/u/groups/g?ttl=-1"), 400u);
    EXPECT_EQ(failure(verb::put, "/api/hubs/chat/users/u/groups/g?ttl=abc"), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/:send?excluded="), 400u);
    EXPECT_EQ(failure(verb::post, "/api/hubs/chat/:send?application=9x"), 400u);
    EXPECT_EQ(failure(verb::delete_, "/api/hubs/chat/connections/c?reason=a%0Ab"), 400u);
    std::string many = "/api/hubs/chat/:send?";
    for (std::size_t i = 0; i <= max_excluded; ++i) {
        many += "excluded=c&";
    }
    EXPECT_EQ(failure(verb::post, many), 400u);
}

TEST(rest_paths, ttl_is_capped_at_a_year) {
    const auto r = parsed(verb::put, "/api/hubs/chat/users/u/groups/g?ttl=999999999999");
    EXPECT_EQ(r.ttl, max_ttl_seconds);
    EXPECT_EQ(parsed(verb::put, "/api/hubs/chat/users/u/groups/g?ttl=0").ttl, 0);
    EXPECT_FALSE(parsed(verb::put, "/api/hubs/chat/users/u/groups/g").ttl.has_value());
}

TEST(rest_names, service_rules) {
    EXPECT_TRUE(check_hub_name("chat").empty());
    EXPECT_TRUE(check_hub_name("Chat_1`,.[]").empty());
    EXPECT_FALSE(check_hub_name("").empty());
    EXPECT_FALSE(check_hub_name("_chat").empty());
    EXPECT_FALSE(check_hub_name("chat-hub").empty());
    EXPECT_TRUE(check_group_name("a/b c").empty());
    EXPECT_FALSE(check_group_name(" \t").empty());
    EXPECT_FALSE(check_group_name(".").empty());
    EXPECT_TRUE(check_user_id(std::string(1024, 'u')).empty());
    EXPECT_FALSE(check_user_id(std::string(1025, 'u')).empty());
    EXPECT_FALSE(check_connection_id("a\x7f").empty());
    EXPECT_FALSE(check_connection_id("").empty());
}

TEST(rest_names, percent_decoding) {
    EXPECT_EQ(percent_decode("a%20b%2f"), "a b/");
    EXPECT_FALSE(percent_decode("%").has_value());
    EXPECT_FALSE(percent_decode("%4").has_value());
    EXPECT_FALSE(percent_decode("%G0").has_value());
}

}  // namespace
}  // namespace switchboard::api
