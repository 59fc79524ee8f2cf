// The router against an ASP.NET Core server on the same bus: a peer publishing and reading the
// exact Redis backplane payloads (backplanes.md §2-3), as a .NET RedisHubLifetimeManager does.
#include "routing/router.hpp"

#include "../support/shard_helpers.hpp"
#include "backplane_conformance.hpp"
#include "routing/memory/memory_backplane.hpp"
#include "routing/scaleout/messages.hpp"

#include <gtest/gtest.h>

namespace switchboard::routing {
namespace {

using conformance::eventually;
using conformance::fake_connection;

// The .NET server: a bare bus member that records what reaches its channels.
class dotnet_peer final : public backplane_handler {
public:
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override {
        std::lock_guard lock(mutex_);
        received_.emplace_back(channel, *payload);
    }
    std::vector<std::pair<std::string, std::string>> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, std::string>> received_;
};

// Records the exact bytes a connection would write to its socket.
class byte_recorder final : public recipient {
public:
    void deliver(const message_ptr& message) override {
        std::lock_guard lock(mutex_);
        frames_.push_back(*message->encoded(wire_protocol::json));
    }
    void invoke(const message_ptr& message, std::chrono::milliseconds,
                result_callback on_result) override {
        {
            std::lock_guard lock(mutex_);
            frames_.push_back(*message->encoded(wire_protocol::json));
        }
        on_result(boost::json::value(42));
    }
    std::vector<std::string> frames() const {
        std::lock_guard lock(mutex_);
        return frames_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> frames_;
};

const std::string json_frame = "{\"type\":1,\"target\":\"Send\",\"arguments\":[\"hi\"]}\x1e";
// [1, {}, nil, "Send", ["hi"], []] behind its varint length.
const std::string messagepack_frame = std::string("\x0e\x96\x01\x80\xc0\xa4Send\x91\xa2hi\x90", 15);

class router_backplane_test : public ::testing::Test {
protected:
    router_backplane_test() {
        hub_ = router_.add_hub("chat", "MyApp.ChatHub");
        pool_.start();
        EXPECT_TRUE(test::run_on(pool_, router::control_shard, [this] {
            router_.start();
            peer_bus_.start(peer_);
        }));
    }
    ~router_backplane_test() override {
        pool_.stop_and_join();
        router_.stop();
    }
    void from_dotnet(const std::string& channel, std::string payload) {
        peer_bus_.publish(channel, make_shared_buffer(std::move(payload)));
    }

    shard_pool pool_{2};
    std::shared_ptr<memory_bus> bus_ = std::make_shared<memory_bus>();
    memory_backplane backplane_{bus_, pool_.context(0).get_executor()};
    router router_{pool_, backplane_, router_options{"switchboard-1", {}, std::chrono::seconds(1)}};
    memory_backplane peer_bus_{bus_, pool_.context(1).get_executor()};
    dotnet_peer peer_;
    hub_id hub_ = 0;
    byte_recorder a_, b_;
};

TEST_F(router_backplane_test, dotnet_invocation_reaches_local_connections_byte_for_byte) {
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { router_.add_connection(hub_, "a", "", a_); }));
    ASSERT_TRUE(test::run_on(pool_, 1, [&] { router_.add_connection(hub_, "b", "", b_); }));
    scaleout::invocation invocation;
    invocation.excluded_connection_ids = {"b"};
    invocation.payloads = {{"json", make_shared_buffer(json_frame)},
                           {"messagepack", make_shared_buffer(messagepack_frame)}};
    from_dotnet("MyApp.ChatHub:all", scaleout::encode_invocation(invocation));
    ASSERT_TRUE(eventually([&] { return a_.frames().size() == 1; }));
    EXPECT_EQ(a_.frames()[0], json_frame);
    ASSERT_TRUE(test::drain(pool_));
    EXPECT_TRUE(b_.frames().empty()) << "excluded by the .NET sender";
}

TEST_F(router_backplane_test, dotnet_group_command_is_applied_and_acknowledged) {
    peer_bus_.subscribe("MyApp.ChatHub:internal:ack:dotnet-1");
    ASSERT_TRUE(test::run_on(pool_, 1, [&] { router_.add_connection(hub_, "a", "", a_); }));
    from_dotnet(
        "MyApp.ChatHub:internal:groups",
        scaleout::encode_group_command({7, "dotnet-1", scaleout::group_action::add, "room", "a"}));
    from_dotnet(
        "MyApp.ChatHub:internal:groups",
        scaleout::encode_group_command({8, "dotnet-1", scaleout::group_action::add, "room", "x"}));
    ASSERT_TRUE(eventually([&] { return !peer_.received().empty(); }));
    EXPECT_EQ(peer_.received()[0].second, scaleout::encode_ack(7));

    scaleout::invocation invocation;
    invocation.payloads = {{"json", make_shared_buffer(json_frame)}};
    from_dotnet("MyApp.ChatHub:group:room", scaleout::encode_invocation(invocation));
    ASSERT_TRUE(eventually([&] { return a_.frames().size() == 1; }));
    ASSERT_TRUE(test::drain(pool_) && test::drain(pool_));
    EXPECT_EQ(peer_.received().size(), 1u) << "connection 'x' is nobody's: no ack";
}

TEST_F(router_backplane_test, dotnet_client_result_request_is_answered_on_its_return_channel) {
    peer_bus_.subscribe("MyApp.ChatHub:internal:return:dotnet-1");
    ASSERT_TRUE(test::run_on(pool_, 1, [&] { router_.add_connection(hub_, "a", "", a_); }));
    const std::string request =
        "{\"type\":1,\"invocationId\":\"abc\",\"target\":\"Ask\",\"arguments\":[]}\x1e";
    scaleout::invocation invocation;
    invocation.payloads = {{"json", make_shared_buffer(request)}};
    invocation.invocation_id = "abc";
    invocation.return_channel = "MyApp.ChatHub:internal:return:dotnet-1";
    from_dotnet("MyApp.ChatHub:connection:a", scaleout::encode_invocation(invocation));
    ASSERT_TRUE(eventually([&] { return !peer_.received().empty(); }));
    EXPECT_EQ(a_.frames().at(0), request);
    const auto completion = scaleout::decode_completion(peer_.received()[0].second);
    ASSERT_TRUE(completion);
    EXPECT_EQ(completion->protocol, "json");
    EXPECT_EQ(*completion->bytes, "{\"type\":3,\"invocationId\":\"abc\",\"result\":42}\x1e");
}

TEST_F(router_backplane_test, group_send_is_published_in_the_aspnet_layout) {
    peer_bus_.subscribe("MyApp.ChatHub:group:room");
    const auto message = make_message("Send", boost::json::array{"hi"});
    ASSERT_TRUE(test::run_on(
        pool_, 0, [&] { router_.send(hub_, audience::groups({"room"}, {"c1"}), message); }));
    ASSERT_TRUE(eventually([&] { return !peer_.received().empty(); }));
    const auto decoded = scaleout::decode_invocation(peer_.received()[0].second);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->excluded_connection_ids, std::vector<std::string>{"c1"});
    ASSERT_NE(decoded->payload(wire_protocol::json), nullptr);
    ASSERT_NE(decoded->payload(wire_protocol::messagepack), nullptr);
    EXPECT_EQ(**decoded->payload(wire_protocol::json), json_frame);
    EXPECT_EQ(**decoded->payload(wire_protocol::messagepack), messagepack_frame);
    EXPECT_FALSE(decoded->invocation_id);
}

TEST_F(router_backplane_test, malformed_messages_from_the_bus_are_counted_and_change_nothing) {
    ASSERT_TRUE(test::run_on(pool_, 0, [&] { router_.add_connection(hub_, "a", "", a_); }));
    from_dotnet("MyApp.ChatHub:all", "not MessagePack");
    from_dotnet("MyApp.ChatHub:internal:groups", std::string("\x93\x01", 2));
    from_dotnet("MyApp.ChatHub:internal:ack:switchboard-1", "\xc1");
    ASSERT_TRUE(eventually([&] { return router_.malformed_backplane_messages() == 3; }));
    // A well-formed one after them still arrives.
    scaleout::invocation invocation;
    invocation.payloads = {{"json", make_shared_buffer(json_frame)},
                           {"messagepack", make_shared_buffer(messagepack_frame)}};
    from_dotnet("MyApp.ChatHub:all", scaleout::encode_invocation(invocation));
    ASSERT_TRUE(eventually([&] { return a_.frames().size() == 1; }));
    EXPECT_EQ(a_.frames()[0], json_frame);
}

}  // namespace
}  // namespace switchboard::routing
