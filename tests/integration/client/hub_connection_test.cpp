// The client library against the conformance app (the ASP.NET JS functional tests' server):
// the scenarios of those tests that apply to a client, on every transport and protocol.
#include "client/hub_connection.hpp"

#include "../support/switchboard_process.hpp"
#include "client_test_support.hpp"

#include <gtest/gtest.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace switchboard::client {
namespace {

using testing::eventually;
using testing::sibling_binary;
using testing::switchboard_process;

struct variant {
    transport_type transport;
    hub_protocol protocol;
    std::string_view transport_name;
};

std::string variant_name(const ::testing::TestParamInfo<variant>& info) {
    return std::string(info.param.transport_name) +
           (info.param.protocol == hub_protocol::json ? "_json" : "_messagepack");
}

class conformance : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<switchboard_process>(sibling_binary("switchboard-conformance"),
                                                        std::vector<std::string>{});
    }
    static void TearDownTestSuite() { server_.reset(); }

    static std::string url(std::string_view path) { return server_->url() + std::string(path); }

    static inline std::unique_ptr<switchboard_process> server_;
};

class every_transport : public conformance, public ::testing::WithParamInterface<variant> {
protected:
    hub_connection_options options() const {
        hub_connection_options o;
        o.transports = GetParam().transport;
        o.protocol = GetParam().protocol;
        return o;
    }
};

TEST_P(every_transport, echo_handlers_errors_and_close) {
    hub_connection connection(url("/testhub"), options());
    testing::collector<std::string> messages;
    connection.on("Message", [&](std::string text) { messages.add(std::move(text)); });
    testing::collector<std::optional<std::string>> closed;
    connection.on_closed([&](std::optional<std::string> error) { closed.add(std::move(error)); });

    connection.start().get();
    EXPECT_EQ(connection.state(), connection_state::connected);
    EXPECT_EQ(connection.transport(), GetParam().transport);
    ASSERT_TRUE(connection.connection_id());
    EXPECT_EQ(connection.invoke<std::string>("GetCallerConnectionId").get(),
              *connection.connection_id());
    EXPECT_EQ(connection.invoke<std::string>("GetActiveTransportName").get(),
              GetParam().transport_name);
    EXPECT_EQ(connection.invoke<std::string>("Echo", "hello").get(), "hello");

    connection.send("InvokeWithString", "from the server").get();
    ASSERT_TRUE(eventually([&] { return messages.size() == 1; }));
    EXPECT_EQ(messages.at(0), "from the server");

    try {
        connection.invoke("ThrowException", "boom").get();
        ADD_FAILURE() << "ThrowException succeeded";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("boom"), std::string::npos) << e.what();
    }
    // A binding error on the server, still a usable connection afterwards.
    EXPECT_THROW(connection.invoke("Echo", 1, 2).get(), hub_error);
    EXPECT_EQ(connection.invoke<std::string>("Echo", "still here").get(), "still here");

    connection.stop().get();
    ASSERT_TRUE(eventually([&] { return closed.size() == 1; }));
    EXPECT_FALSE(closed.at(0));
    EXPECT_EQ(connection.state(), connection_state::disconnected);
    EXPECT_THROW(connection.invoke<std::string>("Echo", "x").get(), hub_error);
}

TEST_P(every_transport, streams_both_ways_and_client_results) {
    hub_connection connection(url("/testhub"), options());
    connection.on("Double", [](int value) { return value * 2; });
    testing::collector<int> canceled;
    connection.on("StreamCanceled", [&] { canceled.add(1); });
    connection.start().get();

    testing::collector<std::string> items;
    std::promise<expected<void>> ended;
    connection.stream<std::string>(
        "Stream", {}, [&](std::string item) { items.add(std::move(item)); },
        [&](expected<void> outcome) { ended.set_value(std::move(outcome)); });
    EXPECT_TRUE(ended.get_future().get());
    EXPECT_EQ(items.all(), (std::vector<std::string>{"a", "b", "c"}));

    std::promise<expected<void>> failed;
    connection.stream<std::string>(
        "StreamThrowException", make_arguments("stream failure"), [](std::string) {},
        [&](expected<void> outcome) { failed.set_value(std::move(outcome)); });
    auto failure = failed.get_future().get();
    ASSERT_FALSE(failure);
    EXPECT_NE(failure.error_message().find("stream failure"), std::string::npos);

    // Cancelling an endless stream reaches the server, which tells us.
    auto endless = connection.stream<int>(
        "InfiniteStream", {}, [](int) {}, [](expected<void>) { ADD_FAILURE() << "completed"; });
    endless.cancel();
    ASSERT_TRUE(eventually([&] { return canceled.size() == 1; }));

    auto upload = connection.make_upload_stream();
    auto concatenated = connection.invoke<std::string>("StreamingConcat", upload);
    upload.write("up");
    upload.write("load");
    upload.complete();
    EXPECT_EQ(concatenated.get(), "upload");

    auto aborted = connection.make_upload_stream();
    auto refused = connection.invoke<std::string>("StreamingConcat", aborted);
    aborted.write("x");
    aborted.complete("the client gave up");
    try {
        refused.get();
        ADD_FAILURE() << "an upload that ended with an error succeeded";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("the client gave up"), std::string::npos) << e.what();
    }

    EXPECT_EQ(connection.invoke<int>("InvokeCaller", "Double", 21).get(), 42);
    try {
        connection.invoke<int>("InvokeCaller", "NoSuchHandler", 1).get();
        ADD_FAILURE() << "a client result without a handler succeeded";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("Client didn't provide a result."), std::string::npos)
            << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    client, every_transport,
    ::testing::Values(
        variant{transport_type::websockets, hub_protocol::json, "WebSockets"},
        variant{transport_type::websockets, hub_protocol::messagepack, "WebSockets"},
        variant{transport_type::server_sent_events, hub_protocol::json, "ServerSentEvents"},
        variant{transport_type::long_polling, hub_protocol::json, "LongPolling"},
        variant{transport_type::long_polling, hub_protocol::messagepack, "LongPolling"}),
    variant_name);

TEST_F(conformance, falls_back_when_websockets_are_not_offered) {
    hub_connection json(url("/testhub-nowebsockets"));
    json.start().get();
    EXPECT_EQ(json.transport(), transport_type::server_sent_events);
    hub_connection_options binary;
    binary.protocol = hub_protocol::messagepack;
    hub_connection messagepack(url("/testhub-nowebsockets"), binary);
    messagepack.start().get();
    EXPECT_EQ(messagepack.transport(), transport_type::long_polling);
    EXPECT_EQ(messagepack.invoke<std::string>("Echo", "binary").get(), "binary");
}

TEST_F(conformance, sends_its_headers_on_every_transport) {
    for (const auto transport : {transport_type::websockets, transport_type::server_sent_events,
                                 transport_type::long_polling}) {
        hub_connection_options options;
        options.transports = transport;
        options.headers = {{"X-Switchboard-Test", "from the client"}};
        hub_connection connection(url("/testhub"), options);
        connection.start().get();
        EXPECT_EQ(
            connection.invoke<std::optional<std::string>>("GetHeader", "X-Switchboard-Test").get(),
            "from the client");
    }
}

TEST_F(conformance, follows_negotiate_redirects) {
    hub_connection connection(url("/redirect?baseUrl=" + server_->url()));
    connection.start().get();
    EXPECT_EQ(connection.invoke<std::string>("Echo", "redirected").get(), "redirected");
}

TEST_F(conformance, skips_negotiation_over_websockets) {
    hub_connection_options options;
    options.transports = transport_type::websockets;
    options.skip_negotiation = true;
    hub_connection connection("ws" + url("/testhub").substr(4), options);
    connection.start().get();
    EXPECT_FALSE(connection.connection_id());
    EXPECT_EQ(connection.invoke<std::string>("Echo", "direct").get(), "direct");

    options.transports = transport_type::long_polling;
    hub_connection refused(url("/testhub"), options);
    EXPECT_THROW(refused.start().get(), hub_error);
}

TEST_F(conformance, sends_an_access_token_on_every_connect) {
    const auto token = testing::http_get(server_->url(), "/generateJwtToken");
    ASSERT_FALSE(token.empty());
    std::atomic<int> calls{0};
    hub_connection_options options;
    options.access_token_provider = [&] {
        ++calls;
        return token;
    };
    hub_connection connection(url("/authorizedhub"), options);
    connection.start().get();
    EXPECT_EQ(connection.invoke<std::string>("Echo", "authorized").get(), "authorized");
    EXPECT_EQ(calls.load(), 1);

    hub_connection anonymous(url("/authorizedhub"));
    try {
        anonymous.start().get();
        ADD_FAILURE() << "an anonymous client reached an authorized hub";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
    }

    hub_connection_options throwing;
    throwing.access_token_provider = []() -> std::string { throw std::runtime_error("no token"); };
    hub_connection broken(url("/authorizedhub"), throwing);
    try {
        broken.start().get();
        ADD_FAILURE() << "started without a token";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("no token"), std::string::npos) << e.what();
    }
}

TEST_F(conformance, reports_negotiate_failures_clearly) {
    hub_connection missing(url("/no-such-hub"));
    EXPECT_THROW(missing.start().get(), hub_error);
    hub_connection bad(url("/bad-negotiate"));
    try {
        bad.start().get();
        ADD_FAILURE() << "bad negotiate accepted";
    } catch (const hub_error& e) {
        EXPECT_NE(std::string(e.what()).find("400"), std::string::npos) << e.what();
    }
    hub_connection invalid("not a url");
    EXPECT_THROW(invalid.start().get(), hub_error);
}

TEST_F(conformance, works_on_an_executor_of_the_callers) {
    boost::asio::io_context context;
    hub_connection connection(context.get_executor(), url("/testhub"));
    std::optional<expected<std::string>> echoed;
    connection.async_start([&](expected<void> started) {
        ASSERT_TRUE(started) << started.error_message();
        connection.async_invoke<std::string>("Echo", make_arguments("async"),
                                             [&](expected<std::string> answer) {
                                                 echoed = std::move(answer);
                                                 connection.async_stop([](expected<void>) {});
                                             });
    });
    context.run_for(std::chrono::seconds(20));
    ASSERT_TRUE(echoed);
    ASSERT_TRUE(*echoed) << echoed->error_message();
    EXPECT_EQ(**echoed, "async");
}

}  // namespace
}  // namespace switchboard::client
