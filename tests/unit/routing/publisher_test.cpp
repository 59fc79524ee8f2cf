// The publisher's encoding against the ASP.NET layouts (backplanes.md §2.1, §2.5, §2.6) and its
// waits (connect, flush, group acks) over a scripted bus.
#include "routing/publisher.hpp"

#include "routing/scaleout/channels.hpp"
#include "routing/scaleout/messages.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

using namespace std::chrono_literals;

std::string bytes(std::initializer_list<unsigned> values) {
    std::string out;
    for (const unsigned v : values) {
        out.push_back(static_cast<char>(v));
    }
    return out;
}

publication send_hi(recipients to) {
    publication p;
    p.target = "Send";
    p.arguments.push_back("hi");
    p.to = std::move(to);
    return p;
}

// §2.6: Clients.All.SendAsync("Send", "hi") with json and messagepack registered.
const std::string send_hi_invocation = [] {
    std::string json = R"({"type":1,"target":"Send","arguments":["hi"]})";
    json.push_back('\x1e');
    std::string out = bytes({0x92, 0x90, 0x82, 0xA4}) + "json" + bytes({0xC4, 0x2E}) + json;
    out += bytes({0xAB}) + "messagepack" + bytes({0xC4, 0x0F, 0x0E, 0x96, 0x01, 0x80, 0xC0, 0xA4});
    out += "Send" + bytes({0x91, 0xA2}) + "hi" + bytes({0x90});
    return out;
}();

TEST(publisher_encoding, all_is_the_aspnet_invocation_on_the_all_channel) {
    const auto encoded = encode_publication(send_hi({}), "MyApp", "MyApp.ChatHub");
    ASSERT_EQ(encoded.channels, std::vector<std::string>{"MyAppMyApp.ChatHub:all"});
    EXPECT_EQ(encoded.payload, send_hi_invocation);
}

TEST(publisher_encoding, exclusions_travel_in_item_zero) {
    recipients to;
    to.excluded = {"a"};
    const auto encoded = encode_publication(send_hi(to), "", "hub");
    // OneExcludedId of RedisProtocolTests: 92 91 A1 61, then the protocol map.
    EXPECT_EQ(encoded.payload.substr(0, 5), bytes({0x92, 0x91, 0xA1, 0x61, 0x82}));
    EXPECT_EQ(encoded.payload.substr(5), send_hi_invocation.substr(3));
}

TEST(publisher_encoding, one_channel_per_named_recipient_prefix_glued_on) {
    recipients users{recipients::kind::users, {"alice", "bob"}, {}};
    EXPECT_EQ(encode_publication(send_hi(users), "Diquis", "notifications").channels,
              (std::vector<std::string>{"Diquisnotifications:user:alice",
                                        "Diquisnotifications:user:bob"}));
    recipients groups{recipients::kind::groups, {"tenant:42", "*"}, {}};
    EXPECT_EQ(encode_publication(send_hi(groups), "", "h").channels,
              (std::vector<std::string>{"h:group:tenant:42", "h:group:*"}));
    recipients connections{recipients::kind::connections, {"Xy3k"}, {}};
    EXPECT_EQ(encode_publication(send_hi(connections), "", "h").channels,
              std::vector<std::string>{"h:connection:Xy3k"});
    auto other_hub = send_hi(users);
    other_hub.hub = "Ns.OtherHub";
    EXPECT_EQ(encode_publication(other_hub, "", "h").channels.front(), "Ns.OtherHub:user:alice");
}

TEST(publisher_encoding, the_payload_decodes_with_the_backplane_codec) {
    recipients to{recipients::kind::groups, {"g"}, {"c1", "c2"}};
    publication p = send_hi(to);
    p.arguments = boost::json::array{boost::json::object{{"tenantName", "acme"}}, 42};
    const auto decoded = scaleout::decode_invocation(encode_publication(p, "", "h").payload);
    ASSERT_TRUE(decoded) << decoded.error_message();
    EXPECT_EQ(decoded->excluded_connection_ids, (std::vector<std::string>{"c1", "c2"}));
    ASSERT_NE(decoded->payload(wire_protocol::json), nullptr);
    EXPECT_EQ(**decoded->payload(wire_protocol::json),
              std::string(R"({"type":1,"target":"Send","arguments":[{"tenantName":"acme"},42]})") +
                  '\x1e');
    EXPECT_NE(decoded->payload(wire_protocol::messagepack), nullptr);
    EXPECT_FALSE(decoded->invocation_id);
}

TEST(publisher_check, refuses_what_aspnet_cannot_address) {
    publication p = send_hi({});
    EXPECT_TRUE(check_publication(p));
    p.target.clear();
    EXPECT_EQ(check_publication(p).error_message(), "no target (the client method to invoke)");
    p = send_hi({recipients::kind::users, {}, {}});
    EXPECT_EQ(check_publication(p).error_message(), "no user named");
    p = send_hi({recipients::kind::groups, {"g", ""}, {}});
    EXPECT_EQ(check_publication(p).error_message(), "an empty group name");
    p = send_hi({recipients::kind::users, {"u"}, {"c"}});
    EXPECT_EQ(check_publication(p).error_message(),
              "exclusions apply to all and groups only (as in ASP.NET)");
    p = send_hi({recipients::kind::groups, {"g"}, {"c"}});
    EXPECT_TRUE(check_publication(p));
    p = send_hi({recipients::kind::all, {"x"}, {}});
    EXPECT_FALSE(check_publication(p));
}

// A bus under the test's control: connection state, confirmations, and what was published.
class scripted_bus final : public backplane {
public:
    void start(backplane_handler& handler) override { handler_ = &handler; }
    void stop() override { handler_ = nullptr; }
    void subscribe(const std::string& channel) override { subscribed.push_back(channel); }
    void unsubscribe(const std::string&) override {}
    void publish(const std::string& channel, shared_buffer payload) override {
        published.emplace_back(channel, *payload);
        ++unconfirmed;
    }
    void when_subscribed(const std::string&, std::function<void()> then) override {
        if (answer_barriers) {
            then();
        } else {
            barriers.push_back(std::move(then));  // a bus that never answers
        }
    }
    [[nodiscard]] bool connected() const override { return is_connected; }
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override { return unconfirmed; }
    [[nodiscard]] std::uint64_t dropped_publications() const override { return dropped; }

    void deliver(const std::string& channel, std::string payload) {
        handler_->on_backplane_message(channel, make_shared_buffer(std::move(payload)));
    }

    bool is_connected = false;
    std::uint64_t unconfirmed = 0;
    std::uint64_t dropped = 0;
    std::vector<std::string> subscribed;
    std::vector<std::pair<std::string, std::string>> published;
    bool answer_barriers = true;
    std::vector<std::function<void()>> barriers;

private:
    backplane_handler* handler_ = nullptr;
};

struct fixture {
    fixture() {
        auto owned = std::make_unique<scripted_bus>();
        bus = owned.get();
        made_backplane made;
        made.bus = std::move(owned);
        made.channel_prefix = "P";
        publisher_options options;
        options.hub = "hub";
        options.server_name = "worker1";
        options.group_ack_timeout = 50ms;
        pub = std::make_unique<publisher>(context, std::move(made), options);
    }
    // Runs the context until `result` is set (bounded: a broken wait fails the test, not hangs).
    void run_until(const std::optional<expected<void>>& result) {
        for (int i = 0; i < 2000 && !result; ++i) {
            if (context.stopped()) {
                context.restart();  // ran out of work at the end of an earlier wait
            }
            context.run_one_for(5ms);
        }
    }
    boost::asio::io_context context;
    scripted_bus* bus = nullptr;
    std::unique_ptr<publisher> pub;
};

TEST(publisher, start_waits_for_the_bus_and_times_out_with_a_clear_error) {
    fixture f;
    std::optional<expected<void>> result;
    f.pub->start(30ms, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(), "the backplane is unreachable (no connection within 30 ms)");

    result.reset();
    f.bus->is_connected = true;
    f.pub->start(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_TRUE(*result);
}

TEST(publisher, flush_waits_for_every_confirmation) {
    fixture f;
    f.bus->is_connected = true;
    std::optional<expected<void>> result;
    f.pub->start(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(f.pub->publish(send_hi({recipients::kind::users, {"a", "b"}, {}})));
    ASSERT_EQ(f.bus->published.size(), 2U);
    EXPECT_EQ(f.bus->published[0].first, "Phub:user:a");

    result.reset();
    f.pub->flush(20ms, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(),
              "2 publication(s) not confirmed by the backplane within 20 ms (unreachable, or lost "
              "with a connection)");

    result.reset();
    f.pub->flush(1s, [&](expected<void> r) { result = std::move(r); });
    f.bus->unconfirmed = 0;
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_TRUE(*result);

    result.reset();
    f.bus->dropped = 1;
    f.pub->flush(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(), "1 publication(s) dropped: the backplane's buffer was full");
}

TEST(publisher, flush_is_bounded_when_the_bus_never_answers_its_barrier) {
    fixture f;
    f.bus->is_connected = true;
    f.bus->answer_barriers = false;
    std::optional<expected<void>> result;
    f.pub->start(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    result.reset();
    f.pub->flush(30ms, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(),
              "the backplane did not confirm the publications within 30 ms");
    // A late answer after the deadline changes nothing.
    for (auto& then : f.bus->barriers) {
        then();
    }
    f.context.restart();
    f.context.poll();
}

TEST(publisher, flush_fails_when_the_bus_went_down) {
    fixture f;
    f.bus->is_connected = true;
    std::optional<expected<void>> result;
    f.pub->start(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    result.reset();
    f.bus->is_connected = false;
    f.pub->flush(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(),
              "the backplane connection was lost before it confirmed the publications");
}

TEST(publisher, group_change_is_the_aspnet_command_and_completes_on_its_ack) {
    fixture f;
    f.bus->is_connected = true;
    std::optional<expected<void>> result;
    f.pub->start(1s, [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);

    result.reset();
    f.pub->add_to_group("", "conn1", "tenant-acme",
                        [&](expected<void> r) { result = std::move(r); });
    // The ack channel is subscribed before the command goes out.
    EXPECT_EQ(f.bus->subscribed, std::vector<std::string>{"Phub:internal:ack:worker1"});
    for (int i = 0; i < 100 && f.bus->published.empty(); ++i) {
        f.context.restart();
        f.context.run_one_for(5ms);
    }
    ASSERT_EQ(f.bus->published.size(), 1U);
    EXPECT_EQ(f.bus->published[0].first, "Phub:internal:groups");
    const auto command = scaleout::decode_group_command(f.bus->published[0].second);
    ASSERT_TRUE(command);
    EXPECT_EQ(command->server_name, "worker1");
    EXPECT_EQ(command->action, scaleout::group_action::add);
    EXPECT_EQ(command->group_name, "tenant-acme");
    EXPECT_EQ(command->connection_id, "conn1");
    // The vector of RedisProtocolTests for the same fields: 95 id "S" 1 "G" "C".
    EXPECT_EQ(scaleout::encode_group_command({42, "S", scaleout::group_action::add, "G", "C"}),
              bytes({0x95, 0x2A, 0xA1, 0x53, 0x01, 0xA1, 0x47, 0xA1, 0x43}));

    f.bus->deliver("Phub:internal:ack:worker1", scaleout::encode_ack(command->id + 1));
    EXPECT_FALSE(result);  // someone else's ack
    f.bus->deliver("Phub:internal:ack:worker1", scaleout::encode_ack(command->id));
    ASSERT_TRUE(result);
    EXPECT_TRUE(*result);

    result.reset();
    f.pub->remove_from_group("", "nobody", "g", [&](expected<void> r) { result = std::move(r); });
    f.run_until(result);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(),
              "no instance acknowledged the group change within 50 ms (no such connection?)");
}

TEST(publisher, stop_ends_every_wait) {
    fixture f;
    f.bus->is_connected = true;
    std::optional<expected<void>> started;
    f.pub->start(1s, [&](expected<void> r) { started = std::move(r); });
    f.run_until(started);
    std::optional<expected<void>> result;
    f.pub->add_to_group("", "c", "g", [&](expected<void> r) { result = std::move(r); });
    f.pub->stop();
    ASSERT_TRUE(result);
    EXPECT_EQ(result->error_message(), "the publisher stopped");
}

}  // namespace
}  // namespace switchboard::routing
