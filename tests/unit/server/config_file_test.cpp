#include "server/config_file.hpp"

#include "server/backends.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace switchboard::config {
namespace {

const std::vector<std::string> flags{"listen",
                                     "backplane",
                                     "max-connections",
                                     "max-message-size",
                                     "keep-alive-interval",
                                     "log-level",
                                     "detailed-errors",
                                     "hub",
                                     "client-timeout"};

const setting* find(const std::vector<setting>& settings, const std::string& flag) {
    const auto it = std::find_if(settings.begin(), settings.end(),
                                 [&](const setting& s) { return s.flag == flag; });
    return it == settings.end() ? nullptr : &*it;
}

bool mentions(const std::vector<std::string>& warnings, const std::string& text) {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

// ../shared/systems/003: TeleDoctor's appsettings.json, verbatim.
TEST(config_file, reads_teledoctor_appsettings) {
    const auto parsed = read_file(R"({
  "Redis": {
    "ConnectionString": "localhost:6379",
    "InstanceName": "TeleDoctor:",
    "AbortOnConnectFail": false
  },
  "SignalR": {
    "UseRedisBackplane": true,
    "MaximumMessageSize": 32768
  }
})",
                                  "appsettings.json", flags);
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_TRUE(parsed->native.empty());
    const auto* backplane = find(parsed->aspnet, "backplane");
    ASSERT_NE(backplane, nullptr);
    EXPECT_EQ(backplane->values, std::vector<std::string>{"localhost:6379"});
    EXPECT_EQ(backplane->origin, "appsettings.json: Redis:ConnectionString");
    EXPECT_EQ(backplanes().name_of(backplane->values.front()), "redis");
    const auto* size = find(parsed->aspnet, "max-message-size");
    ASSERT_NE(size, nullptr);
    EXPECT_EQ(size->values, std::vector<std::string>{"32768"});
    EXPECT_TRUE(mentions(parsed->warnings, "Redis:InstanceName: ignored"));
    EXPECT_TRUE(mentions(parsed->warnings, "Redis:AbortOnConnectFail: ignored"));
}

// ../shared/systems/003: the Azure Redis Cache production file.
TEST(config_file, reads_azure_connection_string_and_redacts_its_password) {
    const auto parsed = read_file(R"({
  "Redis": {
    "ConnectionString": "your-redis.redis.cache.windows.net:6380,password=your-redis-key,ssl=True,abortConnect=False"
  }
})",
                                  "appsettings.Production.json", flags);
    ASSERT_TRUE(parsed) << parsed.error_message();
    const auto* backplane = find(parsed->aspnet, "backplane");
    ASSERT_NE(backplane, nullptr);
    const auto& spec = backplane->values.front();
    EXPECT_EQ(backplanes().name_of(spec), "redis");
    const auto shown = redact("backplane", spec);
    EXPECT_EQ(shown.find("your-redis-key"), std::string::npos) << shown;
    EXPECT_NE(shown.find("your-redis.redis.cache.windows.net:6380"), std::string::npos) << shown;
}

// ../shared/systems/004: Diquis's two appsettings.json files, verbatim.
TEST(config_file, reads_diquis_connection_strings) {
    for (const auto* text : {R"({
  "ConnectionStrings": {
    "DefaultConnection": "...",
    "HangfireConnection": "...",
    "RedisConnection": "localhost:6379"
  }
})",
                             R"({
  "ConnectionStrings": {
    "DefaultConnection": "...",
    "RedisConnection": "localhost:6379"
  }
})"}) {
        const auto parsed = read_file(text, "appsettings.json", flags);
        ASSERT_TRUE(parsed) << parsed.error_message();
        const auto* backplane = find(parsed->aspnet, "backplane");
        ASSERT_NE(backplane, nullptr);
        EXPECT_EQ(backplane->values, std::vector<std::string>{"localhost:6379"});
        // The application's other connection strings are its own business.
        EXPECT_TRUE(parsed->warnings.empty());
    }
}

// The variables of the Compose file, the Kubernetes manifest and App Service settings (003),
// and Diquis's export (004).
TEST(config_environment, reads_section_key_variables) {
    const auto compose = read_aspnet_environment({
        {"Redis__ConnectionString", "redis:6379,password=YourRedisPassword"},
        {"SignalR__UseRedisBackplane", "true"},
        {"PATH", "/usr/bin"},
    });
    ASSERT_TRUE(compose) << compose.error_message();
    const auto* backplane = find(compose->aspnet, "backplane");
    ASSERT_NE(backplane, nullptr);
    EXPECT_EQ(backplane->values.front(), "redis:6379,password=YourRedisPassword");
    EXPECT_EQ(backplane->origin, "environment Redis__ConnectionString");
    EXPECT_EQ(backplanes().name_of(backplane->values.front()), "redis");
    EXPECT_TRUE(compose->warnings.empty());

    const auto diquis =
        read_aspnet_environment({{"ConnectionStrings__RedisConnection", "your-redis-host:6379"}});
    ASSERT_TRUE(diquis);
    ASSERT_NE(find(diquis->aspnet, "backplane"), nullptr);
    EXPECT_EQ(find(diquis->aspnet, "backplane")->values.front(), "your-redis-host:6379");

    // .NET configuration keys are case-insensitive, and so are these.
    const auto lower = read_aspnet_environment({{"REDIS__CONNECTIONSTRING", "r:6379"}});
    ASSERT_TRUE(lower);
    EXPECT_NE(find(lower->aspnet, "backplane"), nullptr);
}

TEST(config_environment, use_redis_backplane_false_turns_the_redis_keys_off) {
    const auto parsed = read_aspnet_environment({
        {"Redis__ConnectionString", "redis:6379"},
        {"SignalR__UseRedisBackplane", "false"},
    });
    ASSERT_TRUE(parsed);
    EXPECT_EQ(find(parsed->aspnet, "backplane"), nullptr);
    EXPECT_TRUE(mentions(parsed->warnings, "UseRedisBackplane is false"));
}

TEST(config_environment, maps_hub_options_and_log_levels) {
    const auto parsed = read_aspnet_environment({
        {"SignalR__KeepAliveInterval", "00:00:10"},
        {"SignalR__ClientTimeoutInterval", "00:01:00"},
        {"SignalR__EnableDetailedErrors", "True"},
        {"Logging__LogLevel__Default", "Warning"},
        {"Logging__LogLevel__Microsoft.AspNetCore", "Warning"},
    });
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(find(parsed->aspnet, "keep-alive-interval")->values.front(), "10000ms");
    EXPECT_EQ(find(parsed->aspnet, "client-timeout")->values.front(), "60000ms");
    EXPECT_EQ(find(parsed->aspnet, "detailed-errors")->values.front(), "true");
    EXPECT_EQ(find(parsed->aspnet, "log-level")->values.front(), "warn");
    EXPECT_TRUE(parsed->warnings.empty());

    const auto bad = read_aspnet_environment({{"Logging__LogLevel__Default", "Loud"}});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error_message().find("environment Logging__LogLevel__Default"),
              std::string::npos);
}

TEST(config_file, native_keys_mirror_the_flags) {
    const auto parsed = read_file(R"({
  // comments, as appsettings.json allows
  "listen": "127.0.0.1:8080",
  "max-connections": 10000,
  "detailed-errors": true,
  "hub": ["/hubs/a", "/hubs/b"],
})",
                                  "switchboard.json", flags);
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(find(parsed->native, "listen")->values, std::vector<std::string>{"127.0.0.1:8080"});
    EXPECT_EQ(find(parsed->native, "max-connections")->values, std::vector<std::string>{"10000"});
    EXPECT_EQ(find(parsed->native, "detailed-errors")->values, std::vector<std::string>{"true"});
    EXPECT_EQ(find(parsed->native, "hub")->values,
              (std::vector<std::string>{"/hubs/a", "/hubs/b"}));
    EXPECT_EQ(find(parsed->native, "listen")->origin, "switchboard.json: listen");
}

TEST(config_file, warns_about_unknown_keys_with_the_nearest_name) {
    const auto parsed = read_file(R"({"max-conections": 5, "max_message_size": 1, "Hangfire": {}})",
                                  "f.json", flags);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(mentions(parsed->warnings,
                         "max-conections: unknown key ignored (did you mean "
                         "max-connections?)"));
    EXPECT_TRUE(mentions(parsed->warnings, "(did you mean max-message-size?)"));
    // Nothing is close to an application's own section: no suggestion.
    EXPECT_TRUE(mentions(parsed->warnings, "Hangfire: unknown key ignored"));
    EXPECT_FALSE(mentions(parsed->warnings, "Hangfire: unknown key ignored ("));
    const auto section = read_file(R"({"Redis": {"ConectionString": "x:1"}})", "f.json", flags);
    ASSERT_TRUE(section);
    EXPECT_TRUE(mentions(section->warnings, "did you mean redis:connectionstring?"));
}

TEST(config_file, refuses_what_is_not_a_setting_naming_the_file_and_key) {
    const auto not_json = read_file("{\"listen\": ", "broken.json", flags);
    ASSERT_FALSE(not_json);
    EXPECT_NE(not_json.error_message().find("broken.json: not valid JSON"), std::string::npos);
    const auto not_object = read_file("[1]", "list.json", flags);
    ASSERT_FALSE(not_object);
    const auto object_value = read_file(R"({"listen": {"host": "x"}})", "f.json", flags);
    ASSERT_FALSE(object_value);
    EXPECT_NE(object_value.error_message().find("f.json: listen"), std::string::npos);
    const auto nested_array = read_file(R"({"hub": [["x"]]})", "f.json", flags);
    ASSERT_FALSE(nested_array);
    EXPECT_NE(nested_array.error_message().find("f.json: hub"), std::string::npos);
}

TEST(config_file, a_redis_key_conflict_keeps_the_first_and_says_so) {
    const auto parsed = read_file(
        R"({"Redis": {"ConnectionString": "a:1"}, "ConnectionStrings": {"Redis": "b:2"}})",
        "f.json", flags);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(find(parsed->aspnet, "backplane")->values.front(), "a:1");
    EXPECT_TRUE(mentions(parsed->warnings, "both set backplane"));
}

TEST(timespan_to_duration, converts_dotnet_timespans) {
    EXPECT_EQ(timespan_to_duration("00:00:15"), "15000ms");
    EXPECT_EQ(timespan_to_duration("01:02:03"), "3723000ms");
    EXPECT_EQ(timespan_to_duration("1.00:00:00"), "86400000ms");
    EXPECT_EQ(timespan_to_duration("00:00:00.5"), "500ms");
    EXPECT_EQ(timespan_to_duration("15s"), "15s");
    EXPECT_EQ(timespan_to_duration("00:61:00"), "00:61:00");  // left for the flag to refuse
    EXPECT_EQ(timespan_to_duration("a:b:c"), "a:b:c");
}

TEST(nearest, suggests_only_close_names) {
    EXPECT_EQ(nearest("lisen", flags), "listen");
    EXPECT_EQ(nearest("BACKPLANE", flags), "backplane");
    EXPECT_EQ(nearest("completely-unrelated", flags), "");
}

TEST(redact, hides_secrets_and_passwords) {
    EXPECT_EQ(redact("jwt-secret", "0123456789abcdef0123456789abcdef"), "<redacted>");
    EXPECT_EQ(redact("access-key", "k"), "<redacted>");
    EXPECT_EQ(redact("events-publish-key", ""), "");
    EXPECT_EQ(redact("listen", "0.0.0.0:5000"), "0.0.0.0:5000");
    const auto conn =
        redact("connection-string", "Endpoint=http://h;AccessKey=SECRET;Version=1.0;");
    EXPECT_EQ(conn.find("SECRET"), std::string::npos) << conn;
    EXPECT_NE(conn.find("Endpoint=http://h"), std::string::npos) << conn;
    EXPECT_EQ(redact("backplane", "redis://:pw@host:6379").find("pw@"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::config
