// parse_negotiate_response: what the server may answer, well-formed or not.
#include "client/transport/negotiate_client.hpp"

#include <gtest/gtest.h>

namespace switchboard::client::detail {
namespace {

TEST(parse_negotiate_response, connection_with_version_1) {
    const auto parsed = parse_negotiate_response(
        R"({"negotiateVersion":1,"connectionId":"id-1","connectionToken":"token-1",)"
        R"("availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},)"
        R"({"transport":"ServerSentEvents","transferFormats":["Text"]},)"
        R"({"transport":"LongPolling","transferFormats":["Text","Binary"]}]})");
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(parsed->negotiate_version, 1);
    EXPECT_EQ(parsed->connection_id, "id-1");
    EXPECT_EQ(parsed->connection_token, "token-1");
    EXPECT_FALSE(parsed->url);
    EXPECT_FALSE(parsed->use_stateful_reconnect);
    ASSERT_EQ(parsed->transports.size(), 3u);
    EXPECT_EQ(parsed->transports[0].type, transport_type::websockets);
    EXPECT_TRUE(parsed->transports[0].text);
    EXPECT_TRUE(parsed->transports[0].binary);
    EXPECT_EQ(parsed->transports[1].type, transport_type::server_sent_events);
    EXPECT_TRUE(parsed->transports[1].text);
    EXPECT_FALSE(parsed->transports[1].binary);
    EXPECT_EQ(parsed->transports[2].type, transport_type::long_polling);
}

TEST(parse_negotiate_response, version_0_uses_the_id_as_token) {
    const auto parsed = parse_negotiate_response(
        R"({"connectionId":"abc","connectionToken":"ignored","availableTransports":[]})");
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(parsed->negotiate_version, 0);
    EXPECT_EQ(parsed->connection_token, "abc");

    const auto explicit_zero = parse_negotiate_response(
        R"({"negotiateVersion":0,"connectionId":"abc","availableTransports":[]})");
    ASSERT_TRUE(explicit_zero) << explicit_zero.error_message();
    EXPECT_EQ(explicit_zero->connection_token, "abc");
}

TEST(parse_negotiate_response, stateful_reconnect_and_unknown_properties) {
    const auto parsed = parse_negotiate_response(
        R"({"useStatefulReconnect":true,"negotiateVersion":1,"connectionId":"a",)"
        R"("connectionToken":"b","availableTransports":[],"tokenLifetimeSeconds":30,"x":{"y":[1]}})");
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_TRUE(parsed->use_stateful_reconnect);
}

TEST(parse_negotiate_response, redirect) {
    const auto parsed =
        parse_negotiate_response(R"({"url":"https://other.example/hub","accessToken":"secret"})");
    ASSERT_TRUE(parsed) << parsed.error_message();
    EXPECT_EQ(parsed->url, "https://other.example/hub");
    EXPECT_EQ(parsed->access_token, "secret");

    const auto without_token = parse_negotiate_response(R"({"url":"http://a/b"})");
    ASSERT_TRUE(without_token);
    EXPECT_EQ(without_token->url, "http://a/b");
    EXPECT_FALSE(without_token->access_token);
}

TEST(parse_negotiate_response, server_error_keeps_its_text) {
    const auto parsed = parse_negotiate_response(
        R"({"error":"The client requested version '0', but the server does not support this version."})");
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error_message(),
              "The client requested version '0', but the server does not support this version.");
}

TEST(parse_negotiate_response, malformed_json) {
    for (const char* body : {"", "{", "not json", R"({"connectionId":"a",})", "\xff\xfe"}) {
        const auto parsed = parse_negotiate_response(body);
        ASSERT_FALSE(parsed) << body;
        EXPECT_NE(parsed.error_message().find("not JSON"), std::string::npos) << body;
    }
    for (const char* body : {"[]", "1", "\"text\"", "null"}) {
        const auto parsed = parse_negotiate_response(body);
        ASSERT_FALSE(parsed) << body;
        EXPECT_NE(parsed.error_message().find("not a JSON object"), std::string::npos) << body;
    }
}

TEST(parse_negotiate_response, wrong_types_name_the_member) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"error":5})", "'error'"},
        {R"({"url":true})", "'url'"},
        {R"({"url":"http://a","accessToken":1})", "'accessToken'"},
        {R"({"negotiateVersion":"1","connectionId":"a"})", "'negotiateVersion'"},
        {R"({"negotiateVersion":1.5,"connectionId":"a"})", "'negotiateVersion'"},
        {R"({"connectionId":7,"availableTransports":[]})", "'connectionId'"},
        {R"({"negotiateVersion":1,"connectionId":"a","connectionToken":[]})", "'connectionToken'"},
        {R"({"connectionId":"a","availableTransports":{}})", "'availableTransports'"},
        {R"({"connectionId":"a","availableTransports":[1]})", "'availableTransports'"},
        {R"({"connectionId":"a","availableTransports":[{"transferFormats":[]}]})", "'transport'"},
        {R"({"connectionId":"a","availableTransports":[{"transport":"WebSockets","transferFormats":"Text"}]})",
         "'transferFormats'"},
        {R"({"connectionId":"a","availableTransports":[{"transport":"LongPolling","transferFormats":[1]}]})",
         "transfer format"},
        {R"({"connectionId":"a","useStatefulReconnect":"yes"})", "'useStatefulReconnect'"},
    };
    for (const auto& [body, named] : cases) {
        const auto parsed = parse_negotiate_response(body);
        ASSERT_FALSE(parsed) << body;
        EXPECT_NE(parsed.error_message().find(named), std::string::npos)
            << body << " -> " << parsed.error_message();
    }
}

TEST(parse_negotiate_response, missing_fields) {
    const auto no_id = parse_negotiate_response(R"({"availableTransports":[]})");
    ASSERT_FALSE(no_id);
    EXPECT_NE(no_id.error_message().find("'connectionId' is missing"), std::string::npos);

    const auto no_token = parse_negotiate_response(
        R"({"negotiateVersion":1,"connectionId":"a","availableTransports":[]})");
    ASSERT_FALSE(no_token);
    EXPECT_NE(no_token.error_message().find("'connectionToken' is missing"), std::string::npos);

    // No transports at all reads as none offered.
    const auto no_transports = parse_negotiate_response(R"({"connectionId":"a"})");
    ASSERT_TRUE(no_transports) << no_transports.error_message();
    EXPECT_TRUE(no_transports->transports.empty());
}

TEST(parse_negotiate_response, unknown_transports_are_kept_as_none) {
    const auto parsed = parse_negotiate_response(
        R"({"connectionId":"a","availableTransports":[{"transport":"Carrier","transferFormats":["Text","Morse"]},)"
        R"({"transport":"websockets","transferFormats":["Binary"]},{"transport":"LongPolling"}]})");
    ASSERT_TRUE(parsed) << parsed.error_message();
    ASSERT_EQ(parsed->transports.size(), 3u);
    EXPECT_EQ(parsed->transports[0].type, transport_type::none);
    EXPECT_TRUE(parsed->transports[0].text);
    EXPECT_FALSE(parsed->transports[0].binary);
    EXPECT_EQ(parsed->transports[1].type, transport_type::none);  // names are case-sensitive
    EXPECT_EQ(parsed->transports[2].type, transport_type::long_polling);
    EXPECT_FALSE(parsed->transports[2].text);
}

TEST(parse_negotiate_response, large_and_negative_versions) {
    const auto high = parse_negotiate_response(
        R"({"negotiateVersion":18446744073709551615,"connectionId":"a","connectionToken":"t"})");
    ASSERT_TRUE(high) << high.error_message();
    EXPECT_GE(high->negotiate_version, 1);
    EXPECT_EQ(high->connection_token, "t");

    const auto negative = parse_negotiate_response(R"({"negotiateVersion":-3,"connectionId":"a"})");
    ASSERT_TRUE(negative) << negative.error_message();
    EXPECT_EQ(negative->connection_token, "a");
}

TEST(transport_name, official_names) {
    EXPECT_EQ(transport_name(transport_type::websockets), "WebSockets");
    EXPECT_EQ(transport_name(transport_type::server_sent_events), "ServerSentEvents");
    EXPECT_EQ(transport_name(transport_type::long_polling), "LongPolling");
    EXPECT_EQ(transport_name(transport_type::none), "");
}

}  // namespace
}  // namespace switchboard::client::detail
