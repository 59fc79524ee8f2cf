// Durable mode's NATS bus on a real nats-server with JetStream: the backplane and durable_log
// conformance suites (cut off: the server restarts on the same store, the stream survives), and
// a server without JetStream.
#include "../../unit/routing/backplane_conformance.hpp"
#include "../../unit/routing/durable_log_conformance.hpp"
#include "nats_server.hpp"
#include "routing/nats/log_backplane.hpp"

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace switchboard::routing::conformance {
namespace {

struct nats_log_factory {
    static bool available() { return testing::nats_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        nats::log_options options;
        options.connection = nats::parse_connection_string(server.url());
        options.server_name = "instance-";
        options.server_name += std::to_string(++made);
        options.window = std::chrono::minutes(1);
        return std::make_unique<nats::log_backplane>(control, std::move(options));
    }
    testing::nats_server server;
    int made = 0;
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats_log, backplane_conformance, nats_log_factory);

}  // namespace
}  // namespace switchboard::routing::conformance

namespace switchboard::routing::log_conformance {
namespace {

// Cut: the server is killed and started again on the same store (the stream survives); a slow
// instance reconnects after 3 s, when the others have published and the test trimmed.
struct nats_log_log_factory {
    using bus_type = nats::log_backplane;
    static constexpr log_capabilities capabilities{};
    static bool available() { return testing::nats_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<bus_type> make(boost::asio::io_context& control,
                                   const instance_options& options) {
        nats::log_options log;
        log.connection = nats::parse_connection_string(server.url());
        log.server_name = options.name;
        log.window = 1min;
        log.max_entries = options.max_entries;
        log.max_bytes = options.max_bytes;
        log.reconnect_wait = options.slow_reconnect ? 3000ms : 100ms;
        log.reconnect_jitter = 10ms;
        log.idle_check = 200ms;  // quick stale checks keep the tests short
        return std::make_unique<bus_type>(control, std::move(log));
    }
    // JetStream's purge keeping the newest `keep` (0: purges all).
    void trim(std::size_t keep) {
        natsConnection* connection = nullptr;
        ASSERT_EQ(natsConnection_ConnectTo(&connection, server.url().c_str()), NATS_OK);
        jsCtx* js = nullptr;
        jsOptions options;
        jsOptions_Init(&options);
        options.Stream.Purge.Keep = keep;
        jsErrCode code{};
        natsStatus status = natsConnection_JetStream(&js, connection, nullptr);
        if (status == NATS_OK) {
            status = js_PurgeStream(js, "switchboard_log", &options, &code);
        }
        jsCtx_Destroy(js);
        natsConnection_Destroy(connection);
        ASSERT_EQ(status, NATS_OK) << natsStatus_GetText(status) << " " << code;
    }
    void cut(bus_type&) { server.kill(); }
    void backend_back() { ASSERT_TRUE(server.start()); }
    void heal(bus_type&) {}
    testing::nats_server server;
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats_log, durable_log_conformance, nats_log_log_factory);

}  // namespace
}  // namespace switchboard::routing::log_conformance

namespace switchboard::testing {
namespace {

TEST(nats_log_startup, a_server_without_jetstream_stops_durable_mode_at_startup) {
    if (!nats_server::available()) {
        GTEST_SKIP() << "nats-server not installed";
    }
    nats_server server;
    server.disable_jetstream();
    ASSERT_TRUE(server.start());
    boost::asio::io_context context;
    routing::nats::log_options options;
    options.connection = routing::nats::parse_connection_string(server.url());
    options.server_name = "a";
    try {
        routing::nats::log_backplane bus(context, std::move(options));
        FAIL() << "built without JetStream";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("JetStream"), std::string::npos);
    }
}

}  // namespace
}  // namespace switchboard::testing
