// The negotiate response body (spec §2.3): member names, order and values.
#include "transport/endpoint.hpp"

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

}  // namespace
}  // namespace switchboard::transport
