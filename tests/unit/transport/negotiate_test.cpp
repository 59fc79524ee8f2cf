// The negotiate response body (spec §2.3): member names, order and values.
#include "transport/negotiate.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include <string>
#include <vector>

namespace switchboard::transport {
namespace {

// The names of an object's members, in order (boost::json keeps insertion order).
std::vector<std::string> keys(const boost::json::object& object) {
    std::vector<std::string> out;
    for (const auto& member : object) {
        out.emplace_back(member.key());
    }
    return out;
}

// The spec's order and transfer formats: WebSockets, ServerSentEvents (Text only), LongPolling.
void expect_all_transports(const boost::json::object& response) {
    const auto& transports = response.at("availableTransports").as_array();
    ASSERT_EQ(transports.size(), 3u);
    const auto& websockets = transports[0].as_object();
    EXPECT_EQ(keys(websockets), (std::vector<std::string>{"transport", "transferFormats"}));
    EXPECT_EQ(websockets.at("transport"), "WebSockets");
    EXPECT_EQ(websockets.at("transferFormats"), (boost::json::array{"Text", "Binary"}));
    EXPECT_EQ(transports[1].at("transport"), "ServerSentEvents");
    EXPECT_EQ(transports[1].at("transferFormats"), (boost::json::array{"Text"}));
    EXPECT_EQ(transports[2].at("transport"), "LongPolling");
    EXPECT_EQ(transports[2].at("transferFormats"), (boost::json::array{"Text", "Binary"}));
}

TEST(negotiate_response, lists_only_the_enabled_transports) {
    const auto body = make_negotiate_response(
        1, "id", "token", server_sent_events_transport | long_polling_transport_bit);
    const auto response = boost::json::parse(body);
    const auto& transports = response.at("availableTransports").as_array();
    ASSERT_EQ(transports.size(), 2u);
    EXPECT_EQ(transports[0].at("transport"), "ServerSentEvents");
    EXPECT_EQ(transports[1].at("transport"), "LongPolling");
}

TEST(negotiate_response, version_1_carries_id_and_token_in_writer_order) {
    const auto body = make_negotiate_response(1, "conn-id", "conn-token");
    const auto response = boost::json::parse(body).as_object();
    EXPECT_EQ(keys(response), (std::vector<std::string>{"negotiateVersion", "connectionId",
                                                        "connectionToken", "availableTransports"}));
    EXPECT_EQ(response.at("negotiateVersion"), 1);
    EXPECT_EQ(response.at("connectionId"), "conn-id");
    EXPECT_EQ(response.at("connectionToken"), "conn-token");
    expect_all_transports(response);
}

TEST(negotiate_response, version_0_has_no_connection_token) {
    const auto body = make_negotiate_response(0, "conn-id", "conn-id");
    const auto response = boost::json::parse(body).as_object();
    EXPECT_EQ(keys(response), (std::vector<std::string>{"negotiateVersion", "connectionId",
                                                        "availableTransports"}));
    EXPECT_EQ(response.at("negotiateVersion"), 0);
    EXPECT_EQ(response.at("connectionId"), "conn-id");
    expect_all_transports(response);
}

TEST(negotiate_response, identifiers_are_json_escaped) {
    const auto body = make_negotiate_response(1, "a\"b", "c\\d");
    const auto response = boost::json::parse(body).as_object();
    EXPECT_EQ(response.at("connectionId"), "a\"b");
    EXPECT_EQ(response.at("connectionToken"), "c\\d");
}

TEST(negotiate_request, version_is_capped_at_one_and_must_be_an_integer) {
    const auto version = [](std::string target) {
        return parse_negotiate_request(parse_query(target));
    };
    EXPECT_EQ(version("/hub/negotiate")->version, 0);
    EXPECT_EQ(version("/hub/negotiate?negotiateVersion=1")->version, 1);
    EXPECT_EQ(version("/hub/negotiate?NEGOTIATEVERSION=7")->version, 1);
    EXPECT_EQ(version("/hub/negotiate?negotiateVersion=-3")->version, 0);
    for (const char* bad : {"abc", "1.0", "", "99999999999999999999", "1x"}) {
        const auto refused = version(std::string("/hub/negotiate?negotiateVersion=") + bad);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error_message(), "The client requested a non-integer protocol version.");
    }
}

TEST(negotiate_request, stateful_reconnect_only_when_asked_with_true) {
    const auto stateful = [](std::string target) {
        return parse_negotiate_request(parse_query(target))->stateful_reconnect;
    };
    EXPECT_TRUE(stateful("/h/negotiate?negotiateVersion=1&useStatefulReconnect=true"));
    EXPECT_TRUE(stateful("/h/negotiate?useStatefulReconnect=True"));
    EXPECT_FALSE(stateful("/h/negotiate?useStatefulReconnect=1"));
    EXPECT_FALSE(stateful("/h/negotiate"));
}

TEST(query, decodes_values_and_finds_names_case_insensitively) {
    const auto parameters = parse_query("/hub?ID=a%2Fb%20c&id=second&flag");
    ASSERT_EQ(parameters.size(), 3u);
    ASSERT_NE(find_parameter(parameters, "id"), nullptr);
    EXPECT_EQ(*find_parameter(parameters, "id"), "a/b c");  // the first of repeated names
    EXPECT_EQ(*find_parameter(parameters, "flag"), "");
    EXPECT_EQ(find_parameter(parameters, "missing"), nullptr);
    EXPECT_TRUE(parse_query("not a target").empty());
}

}  // namespace
}  // namespace switchboard::transport
