// `--hub PATH[=BACKPLANE_NAME]`: names, defaults and refusals; a relay hub's methods.
#include "hub/relay_hub.hpp"

#include <gtest/gtest.h>

namespace switchboard::hub {
namespace {

TEST(relay_hub_spec, name_from_the_path_backplane_name_optional) {
    auto spec = parse_relay_hub_spec("/hubs/notifications");
    ASSERT_TRUE(spec) << spec.error_message();
    EXPECT_EQ(spec->path, "/hubs/notifications");
    EXPECT_EQ(spec->name, "notifications");
    EXPECT_EQ(spec->backplane_name, "notifications");

    spec =
        parse_relay_hub_spec("/hubs/notifications/=Diquis.Infrastructure.Services.NotificationHub");
    ASSERT_TRUE(spec) << spec.error_message();
    EXPECT_EQ(spec->path, "/hubs/notifications");
    EXPECT_EQ(spec->backplane_name, "Diquis.Infrastructure.Services.NotificationHub");
}

TEST(relay_hub_spec, refusals_name_the_problem) {
    const std::pair<const char*, const char*> rows[] = {
        {"hubs/x", "must start with '/'"},      {"/", "must start with '/'"},
        {"/hubs/../admin", "no '..'"},          {"/hubs//x", "no '..' or '//'"},
        {"/hubs/x?y=1", "letters, digits"},     {"/hubs/x=", "empty backplane name"},
        {"/hubs/x=a\nb", "control characters"},
    };
    for (const auto& [text, reason] : rows) {
        const auto spec = parse_relay_hub_spec(text);
        ASSERT_FALSE(spec) << text;
        EXPECT_NE(spec.error_message().find(reason), std::string::npos)
            << text << ": " << spec.error_message();
    }
}

TEST(relay_hub, methods_only_with_self_service_groups) {
    const auto spec = *parse_relay_hub_spec("/hubs/notifications=N.Hub");
    const auto plain = make_relay_hub(spec, {});
    EXPECT_EQ(plain->name(), "notifications");
    EXPECT_EQ(plain->backplane_name(), "N.Hub");
    EXPECT_EQ(plain->find_method("JoinGroup"), nullptr);

    relay_hub_options options;
    options.self_service_groups = true;
    const auto groups = make_relay_hub(spec, options);
    EXPECT_NE(groups->find_method("joingroup"), nullptr);
    EXPECT_NE(groups->find_method("LeaveGroup"), nullptr);
    EXPECT_EQ(groups->find_method("SendMessage"), nullptr);
}

}  // namespace
}  // namespace switchboard::hub
