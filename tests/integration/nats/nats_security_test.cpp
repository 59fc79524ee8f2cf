// The NATS backplane's credentials and TLS options against nats-servers that require them.
#include "nats_server.hpp"
#include "nats_test_support.hpp"

#include <gtest/gtest.h>

namespace switchboard::testing {
namespace {

class nats_security_test : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nats_server::available()) {
            GTEST_SKIP() << "nats-server is not installed";
        }
    }
    // `to` hears `from` on a fresh channel.
    static void expect_delivery(bus_endpoint& from, bus_endpoint& to) {
        ASSERT_TRUE(eventually([&] { return from.bus().connected() && to.bus().connected(); }));
        ASSERT_TRUE(to.subscribe("secure"));
        from.publish("secure", "hello");
        ASSERT_TRUE(eventually([&] { return to.handler().has("hello"); }));
    }
    // Stays disconnected through a few reconnect rounds (100 ms each): only a refused
    // handshake keeps it so, which is the point of the test.
    static bool stays_down(bus_endpoint& bus) {
        return !eventually([&] { return bus.bus().connected(); }, 1s);
    }
};

std::string with_userinfo(const std::string& url, const std::string& userinfo) {
    return url.substr(0, url.find("://") + 3) + userinfo + "@" + url.substr(url.find("://") + 3);
}

TEST_F(nats_security_test, user_and_password_from_the_url) {
    nats_server server({"--user", "alice", "--pass", "s3cr:t"});
    ASSERT_TRUE(server.start());
    bus_endpoint a(with_userinfo(server.url(), "alice:s3cr%3At")),
        b(with_userinfo(server.url(), "alice:s3cr%3At"));
    expect_delivery(a, b);
    bus_endpoint wrong(with_userinfo(server.url(), "alice:nope"));
    EXPECT_TRUE(stays_down(wrong));
}

TEST_F(nats_security_test, token_from_the_url) {
    nats_server server({"--auth", "t0ken"});
    ASSERT_TRUE(server.start());
    bus_endpoint a(with_userinfo(server.url(), "t0ken")), b(with_userinfo(server.url(), "t0ken"));
    expect_delivery(a, b);
    bus_endpoint none(server.url());
    EXPECT_TRUE(stays_down(none));
}

TEST_F(nats_security_test, tls_verified_against_a_private_ca) {
    nats_server server;
    ASSERT_TRUE(server.enable_tls());
    ASSERT_TRUE(server.start());
    const auto url = server.url() + "?tls_ca=" + server.file("ca.crt");
    EXPECT_TRUE(url.starts_with("tls://"));
    bus_endpoint a(url), b(url);
    expect_delivery(a, b);
    bus_endpoint untrusted(server.url() + "?tls_ca=" + server.file("other-ca.crt"));
    EXPECT_TRUE(stays_down(untrusted));
}

TEST_F(nats_security_test, tls_with_a_client_certificate) {
    nats_server server;
    ASSERT_TRUE(server.enable_tls(true));
    ASSERT_TRUE(server.start());
    const auto url = server.url() + "?tls_ca=" + server.file("ca.crt") +
                     "&tls_cert=" + server.file("client.crt") +
                     "&tls_key=" + server.file("client.key");
    bus_endpoint a(url), b(url);
    expect_delivery(a, b);
    bus_endpoint anonymous(server.url() + "?tls_ca=" + server.file("ca.crt"));
    EXPECT_TRUE(stays_down(anonymous));
}

}  // namespace
}  // namespace switchboard::testing
