#include "routing/router.hpp"

#include "../support/shard_helpers.hpp"
#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

// Records the channels handed to it.
class recording_listener final : public backplane_handler {
public:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        seen.emplace_back(std::string(channel) + "=" + *payload);
    }
    std::vector<std::string> seen;
};

TEST(router_channel_listeners, channels_under_a_prefix_go_to_their_listener_only) {
    shard_pool pool{1};
    memory_backplane bus{std::make_shared<memory_bus>(), pool.context(0).get_executor()};
    router hubs{pool, bus};
    hubs.add_hub("chat");
    recording_listener events, all;
    hubs.add_channel_listener("p:switchboard:events:", events);
    hubs.add_channel_listener("p:switchboard:events-all", all);
    pool.start();
    ASSERT_TRUE(test::run_on(pool, router::control_shard, [&] {
        hubs.on_backplane_message("p:switchboard:events:game:1", make_shared_buffer("a"));
        hubs.on_backplane_message("p:switchboard:events-all", make_shared_buffer("b"));
        hubs.on_backplane_message("chat:all", make_shared_buffer("not a hub message"));
        hubs.on_backplane_message("other", make_shared_buffer("c"));
    }));
    pool.stop_and_join();
    EXPECT_EQ(events.seen, std::vector<std::string>{"p:switchboard:events:game:1=a"});
    EXPECT_EQ(all.seen, std::vector<std::string>{"p:switchboard:events-all=b"});
    // The hub channel still went to the hubs (and failed to decode there), nothing else did.
    EXPECT_EQ(hubs.malformed_backplane_messages(), 1U);
}

}  // namespace
}  // namespace switchboard::routing
