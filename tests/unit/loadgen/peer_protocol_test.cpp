#include "client/peer_client.hpp"
#include "loadgen/scenario.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard {
namespace {

using client::parse_socketio_packet;
using client::socketio_last_string;

TEST(socketio_packet, parses_events_acks_and_connects) {
    const auto event = parse_socketio_packet(R"(2["broadcast","alice","hi"])");
    ASSERT_TRUE(event);
    EXPECT_EQ(event->type, '2');
    EXPECT_FALSE(event->id);
    EXPECT_EQ(event->data, R"(["broadcast","alice","hi"])");

    const auto ack = parse_socketio_packet("312[]");
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->type, '3');
    EXPECT_EQ(ack->id, 12u);
    EXPECT_EQ(ack->data, "[]");

    const auto connect = parse_socketio_packet(R"(0{"sid":"abc"})");
    ASSERT_TRUE(connect);
    EXPECT_EQ(connect->type, '0');
    EXPECT_EQ(connect->data, R"({"sid":"abc"})");

    const auto bare = parse_socketio_packet("1");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->type, '1');
    EXPECT_TRUE(bare->data.empty());
}

TEST(socketio_packet, skips_a_namespace_and_refuses_junk) {
    const auto event = parse_socketio_packet(R"(2/admin,7["x"])");
    ASSERT_TRUE(event);
    EXPECT_EQ(event->id, 7u);
    EXPECT_EQ(event->data, R"(["x"])");
    EXPECT_FALSE(parse_socketio_packet(""));
    EXPECT_FALSE(parse_socketio_packet("x[]"));
    EXPECT_FALSE(parse_socketio_packet("9[]"));
    EXPECT_FALSE(parse_socketio_packet("2/admin"));
    EXPECT_FALSE(parse_socketio_packet("399999999999999999999999[]"));
}

TEST(socketio_packet, finds_the_last_string_argument) {
    EXPECT_EQ(socketio_last_string(R"(["broadcast","alice","0001..."])"), "0001...");
    EXPECT_EQ(socketio_last_string(R"(["echo","42"])"), "42");
    EXPECT_EQ(socketio_last_string(R"(["echo",""])"), "");
    // Not a string, escapes, a quote inside the text, or no array.
    EXPECT_FALSE(socketio_last_string(R"(["echo",42])"));
    EXPECT_FALSE(socketio_last_string(R"(["echo","a\"b"])"));
    EXPECT_FALSE(socketio_last_string(R"(["echo","a "b"])"));
    EXPECT_FALSE(socketio_last_string(R"("x")"));
}

TEST(peer_plan, maps_scenarios_to_socketio_events) {
    loadgen::bench_options options;
    options.system = loadgen::system_kind::socketio;
    options.connections = 20;
    options.run_id = "r";
    std::string packet;

    options.kind = loadgen::scenario::broadcast;
    loadgen::plan(options).socketio_message_from(0, "0042", packet);
    EXPECT_EQ(packet, R"(2["broadcast","0042"])");

    options.kind = loadgen::scenario::connection;
    const loadgen::plan direct(options);
    direct.socketio_message_from(19, "1", packet);
    EXPECT_EQ(packet, R"(2["direct","bench-r-0","1"])");
    EXPECT_EQ(direct.fanout_of(19), 2u);

    options.kind = loadgen::scenario::group;
    const loadgen::plan group(options);
    group.socketio_message_from(13, "1", packet);
    EXPECT_EQ(packet, R"(2["group send","bench-r-0g1","1"])");
    EXPECT_EQ(group.socketio_join(13), R"(20["group join","bench-r-0g1"])");
}

TEST(peer_plan, maps_scenarios_to_nchan_channels) {
    loadgen::bench_options options;
    options.system = loadgen::system_kind::nchan;
    options.connections = 20;
    options.run_id = "r";

    options.kind = loadgen::scenario::broadcast;
    const loadgen::plan broadcast(options);
    EXPECT_EQ(broadcast.nchan_subscribe_channel(5), broadcast.nchan_subscribe_channel(6));
    EXPECT_EQ(broadcast.nchan_publish_channel(0), broadcast.nchan_subscribe_channel(5));

    options.kind = loadgen::scenario::connection;
    const loadgen::plan direct(options);
    EXPECT_EQ(direct.nchan_publish_channel(3), direct.nchan_subscribe_channel(4));
    EXPECT_NE(direct.nchan_subscribe_channel(3), direct.nchan_subscribe_channel(4));
    // No copy to the sender: one delivery per message.
    EXPECT_EQ(direct.fanout_of(3), 1u);

    EXPECT_TRUE(loadgen::unsupported(loadgen::system_kind::nchan, loadgen::scenario::echo));
    EXPECT_FALSE(loadgen::unsupported(loadgen::system_kind::nchan, loadgen::scenario::group));
    EXPECT_FALSE(loadgen::unsupported(loadgen::system_kind::socketio, loadgen::scenario::echo));
}

}  // namespace
}  // namespace switchboard
