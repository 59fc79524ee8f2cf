#include "routing/backplane_factory.hpp"

#include "routing/memory/memory_backplane.hpp"
#include "server/backends.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace switchboard::routing {
namespace {

std::string error_of(const backplane_factory& factory, std::string_view spec,
                     const backplane_settings& settings) {
    try {
        (void)factory.make(spec, settings);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return {};
}

class backplane_factory_test : public ::testing::Test {
protected:
    backplane_factory_test() {
        settings_.control = &control_;
        settings_.max_buffered_bytes = 1024;
    }

    boost::asio::io_context control_;
    backplane_settings settings_;
};

TEST_F(backplane_factory_test, memory_is_always_there) {
    auto made = backplanes().make("memory", settings_);
    ASSERT_NE(made.bus, nullptr);
    EXPECT_TRUE(made.bus->connected());
    EXPECT_TRUE(made.channel_prefix.empty());
    EXPECT_EQ(backplanes().redact("memory"), "memory");
}

TEST_F(backplane_factory_test, unknown_forms_list_what_is_accepted) {
    const auto message = error_of(backplanes(), "amqp://user:secret@host:4222", settings_);
    EXPECT_TRUE(message.starts_with("--backplane: ")) << message;
    EXPECT_NE(message.find("amqp://..."), std::string::npos) << message;
    EXPECT_NE(message.find("memory"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
    EXPECT_EQ(message.find(backplanes().describe()),
              message.size() - backplanes().describe().size());
}

TEST_F(backplane_factory_test, first_accepting_kind_wins_and_its_errors_name_the_forms) {
    backplane_factory factory;
    register_memory_backplane(factory);
    factory.add({"fake", "fake://...",
                 [](std::string_view spec) { return spec.starts_with("fake://"); },
                 [](std::string_view spec, const backplane_settings&) -> made_backplane {
                     if (spec == "fake://bad") {
                         throw std::invalid_argument("bad fake");
                     }
                     made_backplane made;
                     made.channel_prefix.push_back('p');
                     made.notes.push_back("note");
                     return made;
                 },
                 [](std::string_view) { return std::string("fake://***"); }});
    EXPECT_EQ(factory.describe(), "memory; fake://... (fake)");
    const auto made = factory.make("fake://ok", settings_);
    EXPECT_EQ(made.channel_prefix, "p");
    EXPECT_EQ(made.notes.size(), 1U);
    EXPECT_EQ(factory.redact("fake://user:pw@x"), "fake://***");
    EXPECT_EQ(error_of(factory, "fake://bad", settings_),
              "--backplane: bad fake (expected memory; fake://... (fake))");
    EXPECT_EQ(factory.redact("host:6379,password=x"), "...");
}

#ifdef SWITCHBOARD_BACKPLANE_REDIS
TEST_F(backplane_factory_test, redis_keeps_every_form_and_its_channel_prefix) {
    for (const auto* spec :
         {"redis://127.0.0.1:6379", "rediss://127.0.0.1:6380",
          "127.0.0.1:6379,password=secret,channelPrefix=app1", "REDIS://127.0.0.1"}) {
        EXPECT_NO_THROW((void)backplanes().make(spec, settings_)) << spec;
    }
    const auto made = backplanes().make("127.0.0.1:6379,channelPrefix=app1,bogus=1", settings_);
    EXPECT_EQ(made.channel_prefix, "app1");
    EXPECT_FALSE(made.notes.empty());  // the unknown key
    EXPECT_EQ(backplanes().redact("127.0.0.1:6379,password=secret").find("secret"),
              std::string::npos);
    EXPECT_EQ(backplanes().redact("redis://u:secret@h:1").find("secret"), std::string::npos);
    const auto message = error_of(backplanes(), "redis://", settings_);
    EXPECT_TRUE(message.starts_with("--backplane: ")) << message;
    EXPECT_NE(message.find("redis://host:port"), std::string::npos) << message;
}
#endif

}  // namespace
}  // namespace switchboard::routing
