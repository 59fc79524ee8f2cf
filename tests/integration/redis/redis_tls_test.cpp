// The Redis client over TLS against a real redis-server with a test CA made by the openssl
// CLI: verification by CA file, by name, client certificates, and failures that must not crash.
#include "redis_server.hpp"
#include "redis_test_support.hpp"
#include "routing/redis/redis_client.hpp"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using namespace std::chrono_literals;
using testing::received_message;
using testing::redis_server;

class RedisTlsTest : public testing::redis_test {
protected:
    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed (scripts/install-deps --test)";
        }
    }

    // Starts server with TLS, or skips the test with the reason.
    void start_tls(redis_server& server, bool require_client_certificates = false) {
        ASSERT_TRUE(server.enable_tls(require_client_certificates))
            << "the openssl CLI could not make the test certificates (see "
            << server.file("openssl.log") << ")";
        // Debian's redis-server is built with TLS; one built without refuses --tls-port.
        ASSERT_TRUE(server.start()) << "redis-server did not start with TLS (built without "
                                       "BUILD_TLS?), see "
                                    << server.file("redis.log");
    }

    static client_options tls_options(const redis_server& server, std::string ca_file) {
        client_options options;
        options.connection.host = "127.0.0.1";
        options.connection.port = server.tls_port();
        options.connection.tls = true;
        options.connection.tls_ca_file = std::move(ca_file);
        return options;
    }
};

TEST_F(RedisTlsTest, PublishSubscribeRoundTripVerifiedByCaFile) {
    redis_server server;
    start_tls(server);
    // By IP address (checked against the certificate's IP entry, no SNI) and by name.
    redis_client subscriber(context_, tls_options(server, server.file("ca.crt")));
    auto by_name = tls_options(server, server.file("ca.crt"));
    by_name.connection.tls_host = "localhost";
    redis_client publisher(context_, by_name);
    std::vector<received_message> received;
    subscriber.set_message_handler(collect(received));
    subscriber.subscribe("secure");
    subscriber.start();
    publisher.start();
    ASSERT_TRUE(run_until([&] { return subscriber.connected() && publisher.connected(); }));

    // Larger than one TLS record (16 KiB) and than the read buffer.
    const std::string large(100 * 1024, 'x');
    ASSERT_TRUE(publisher.publish("secure", make_shared_buffer("over tls")));
    ASSERT_TRUE(publisher.publish("secure", make_shared_buffer(large)));
    ASSERT_TRUE(run_until([&] { return received.size() == 2; }));
    EXPECT_EQ(received[0].payload, "over tls");
    EXPECT_EQ(received[1].payload, large);
    EXPECT_EQ(server.integer_command({}, {"PUBSUB", "NUMSUB", "secure"}), 1);
}

TEST_F(RedisTlsTest, UntrustedCertificateOrWrongNameNeverConnects) {
    redis_server server;
    start_tls(server);
    redis_client wrong_ca(context_, tls_options(server, server.file("other-ca.crt")));
    auto wrong_name_options = tls_options(server, server.file("ca.crt"));
    wrong_name_options.connection.tls_host = "redis.example.com";
    redis_client wrong_name(context_, wrong_name_options);
    // Trusted, but a plain-text client on the TLS port: the server sees garbage.
    auto plain_options = tls_options(server, {});
    plain_options.connection.tls = false;
    redis_client plain(context_, plain_options);
    plain.subscribe("x");  // something to wait for, so it cannot look connected
    wrong_ca.start();
    wrong_name.start();
    plain.start();
    ASSERT_TRUE(run_until([&] {
        return wrong_ca.statistics().reconnects >= 2 && wrong_name.statistics().reconnects >= 2;
    }));
    EXPECT_FALSE(wrong_ca.connected());
    EXPECT_FALSE(wrong_name.connected());
    EXPECT_FALSE(plain.connected());
    wrong_ca.stop();
    wrong_name.stop();
    plain.stop();
    EXPECT_FALSE(wrong_ca.connected());
    context_.run_for(20ms);  // the aborted operations complete without touching freed streams
}

TEST_F(RedisTlsTest, ClientCertificateWhenTheServerAsksForOne) {
    redis_server server;
    start_tls(server, /*require_client_certificates=*/true);
    redis_client anonymous(context_, tls_options(server, server.file("ca.crt")));
    auto with_certificate = tls_options(server, server.file("ca.crt"));
    with_certificate.connection.tls_cert_file = server.file("client.crt");
    with_certificate.connection.tls_key_file = server.file("client.key");
    redis_client authenticated(context_, with_certificate);
    anonymous.start();
    authenticated.start();
    ASSERT_TRUE(run_until([&] { return authenticated.connected(); }));
    ASSERT_TRUE(run_until([&] { return anonymous.statistics().reconnects >= 2; }));
    EXPECT_FALSE(anonymous.connected());
}

TEST_F(RedisTlsTest, InsecureSkipVerifyConnectsOnlyWhenAskedFor) {
    redis_server server;
    start_tls(server);
    // No CA file: the system store does not know the test CA.
    redis_client verified(context_, tls_options(server, {}));
    auto insecure_options = tls_options(server, {});
    insecure_options.connection.tls_insecure_skip_verify = true;
    redis_client insecure(context_, insecure_options);
    verified.start();
    insecure.start();
    ASSERT_TRUE(run_until([&] { return insecure.connected(); }));
    ASSERT_TRUE(run_until([&] { return verified.statistics().reconnects >= 2; }));
    EXPECT_FALSE(verified.connected());
}

TEST_F(RedisTlsTest, UnreadableFilesAreStartupErrors) {
    client_options options;
    options.connection.host = "127.0.0.1";
    options.connection.tls = true;
    options.connection.tls_ca_file = "/nonexistent/ca.pem";
    EXPECT_THROW(redis_client(context_, options), std::invalid_argument);
    options.connection.tls_ca_file.clear();
    options.connection.tls_cert_file = "/nonexistent/client.crt";
    options.connection.tls_key_file = "/nonexistent/client.key";
    EXPECT_THROW(redis_client(context_, options), std::invalid_argument);
}

}  // namespace
}  // namespace switchboard::routing::redis
