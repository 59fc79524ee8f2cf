// ARGUMENTS-JSON and stdin lines of `switchboard publish`: what is accepted, and the reasons
// given for what is not.
#include "routing/publication_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace switchboard::routing {
namespace {

TEST(publication_arguments, an_array_is_the_list_anything_else_one_argument) {
    EXPECT_EQ(boost::json::serialize(*parse_arguments(R"([1,"a"])")), R"([1,"a"])");
    EXPECT_EQ(boost::json::serialize(*parse_arguments(R"({"tenantName":"acme"})")),
              R"([{"tenantName":"acme"}])");
    EXPECT_EQ(boost::json::serialize(*parse_arguments(R"("text")")), R"(["text"])");
    EXPECT_EQ(boost::json::serialize(*parse_arguments("[[1,2]]")), "[[1,2]]");
    EXPECT_EQ(boost::json::serialize(*parse_arguments("")), "[]");
    const auto bad = parse_arguments("text");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error_message().find("ARGUMENTS must be JSON"), std::string::npos);
    EXPECT_NE(bad.error_message().find("a string needs quotes"), std::string::npos);
}

publication defaults() {
    publication p;
    p.to.type = recipients::kind::users;
    p.to.names = {"cli-user"};
    return p;
}

TEST(publication_line, fills_in_from_the_command_line) {
    const auto p =
        parse_publication_line(R"({"target":"TenantCreated","arguments":[{"a":1}]})", defaults());
    ASSERT_TRUE(p) << p.error_message();
    EXPECT_EQ(p->target, "TenantCreated");
    EXPECT_EQ(p->to.type, recipients::kind::users);
    EXPECT_EQ(p->to.names, std::vector<std::string>{"cli-user"});
    EXPECT_EQ(boost::json::serialize(p->arguments), R"([{"a":1}])");
}

TEST(publication_line, every_recipient_key) {
    struct row {
        const char* line;
        recipients::kind kind;
        std::vector<std::string> names;
    };
    const row rows[] = {
        {R"({"target":"T","user":"u"})", recipients::kind::users, {"u"}},
        {R"({"target":"T","users":["u","v"]})", recipients::kind::users, {"u", "v"}},
        {R"({"target":"T","group":"g"})", recipients::kind::groups, {"g"}},
        {R"({"target":"T","groups":["g","h"]})", recipients::kind::groups, {"g", "h"}},
        {R"({"target":"T","connection":"c"})", recipients::kind::connections, {"c"}},
        {R"({"target":"T","connections":["c"]})", recipients::kind::connections, {"c"}},
        {R"({"target":"T","all":true})", recipients::kind::all, {}},
    };
    for (const auto& r : rows) {
        const auto p = parse_publication_line(r.line, defaults());
        ASSERT_TRUE(p) << r.line << ": " << p.error_message();
        EXPECT_EQ(p->to.type, r.kind) << r.line;
        EXPECT_EQ(p->to.names, r.names) << r.line;
    }
    const auto excluded = parse_publication_line(
        R"({"target":"T","group":"g","exclude":["a","b"],"hub":"H"})", defaults());
    ASSERT_TRUE(excluded);
    EXPECT_EQ(excluded->to.excluded, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(excluded->hub, "H");
    const auto one = parse_publication_line(R"({"target":"T","all":true,"exclude":"a"})", {});
    ASSERT_TRUE(one);
    EXPECT_EQ(one->to.excluded, std::vector<std::string>{"a"});
}

TEST(publication_line, bad_lines_say_why) {
    const std::pair<const char*, const char*> rows[] = {
        {"not json", "not JSON"},
        {"[1]", "not a JSON object"},
        {R"({"target":1})", "\"target\" must be a string"},
        {R"({"target":"T","arguments":{}})", "\"arguments\" must be an array"},
        {R"({"target":"T","usr":"a"})", "unknown key \"usr\""},
        {R"({"target":"T","user":"a","group":"g"})", "more than one of"},
        {R"({"target":"T","user":["a"]})", "\"user\" must be a string"},
        {R"({"target":"T","users":"a"})", "\"users\" must be an array of strings"},
        {R"({"target":"T","all":false})", "\"all\" must be true"},
        {R"({"target":"T","exclude":[1]})", "\"exclude\" must be a string or an array"},
        {R"({"arguments":[]})", "no target"},
        {R"({"target":"T","user":""})", "an empty user name"},
        {R"({"target":"T","connection":"c","exclude":"x"})", "exclusions apply to all and groups"},
    };
    for (const auto& [line, reason] : rows) {
        const auto p = parse_publication_line(line, defaults());
        ASSERT_FALSE(p) << line;
        EXPECT_NE(p.error_message().find(reason), std::string::npos)
            << line << ": " << p.error_message();
    }
}

}  // namespace
}  // namespace switchboard::routing
