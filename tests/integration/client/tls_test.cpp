// The client over https and wss against `switchboard serve --tls-cert`: certificates are
// verified by default, a private CA is trusted through ca_file, and only a test turns it off.
#include "client/hub_connection.hpp"

#include "../support/switchboard_process.hpp"
#include "../support/test_certificates.hpp"
#include "client_test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace switchboard::client {
namespace {

using testing::collector;
using testing::eventually;

class client_tls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        auto pattern = (std::filesystem::temp_directory_path() / "switchboard-tls-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        directory_ = pattern;
        ASSERT_TRUE(testing::make_test_certificates(directory_)) << "openssl failed";
        server_ = std::make_unique<testing::switchboard_process>(
            testing::sibling_binary("switchboard"),
            std::vector<std::string>{"serve", "--backplane", "memory", "--threads", "1",
                                     "--tls-cert", directory_ + "/server.crt", "--tls-key",
                                     directory_ + "/server.key"});
    }
    static void TearDownTestSuite() {
        server_.reset();
        std::filesystem::remove_all(directory_);
    }

    static std::string hub_url() { return server_->url() + "/hubs/chat?user=secure"; }

    // The error start() fails with, or "started".
    static std::string start_outcome(const hub_connection_options& options) {
        hub_connection connection(hub_url(), options);
        try {
            connection.start().get();
        } catch (const hub_error& e) {
            return e.what();
        }
        return "started";
    }

    static inline std::string directory_;
    static inline std::unique_ptr<testing::switchboard_process> server_;
};

TEST_F(client_tls, trusts_a_private_ca_through_ca_file_on_every_transport) {
    ASSERT_EQ(server_->url().rfind("https://", 0), 0U) << server_->url();
    for (const auto transport : {transport_type::websockets, transport_type::server_sent_events,
                                 transport_type::long_polling}) {
        hub_connection_options options;
        options.transports = transport;
        options.ca_file = directory_ + "/ca.crt";
        hub_connection connection(hub_url(), options);
        collector<std::string> messages;
        connection.on("ReceiveMessage",
                      [&](std::string, std::string text) { messages.add(std::move(text)); });
        connection.start().get();
        EXPECT_EQ(connection.transport(), transport);
        connection.invoke("SendMessage", "over tls").get();
        ASSERT_TRUE(eventually([&] { return messages.size() == 1; }));
        EXPECT_EQ(messages.at(0), "over tls");
    }
}

TEST_F(client_tls, refuses_certificates_it_cannot_verify) {
    hub_connection_options system_cas;  // the system's CAs know nothing of the test CA
    EXPECT_NE(start_outcome(system_cas), "started");
    hub_connection_options other_ca;
    other_ca.ca_file = directory_ + "/other-ca.crt";
    EXPECT_NE(start_outcome(other_ca), "started");
    hub_connection_options missing;
    missing.ca_file = directory_ + "/no-such-file.crt";
    EXPECT_NE(start_outcome(missing).find("no-such-file.crt"), std::string::npos);

    hub_connection_options unchecked;
    unchecked.verify_certificate = false;
    EXPECT_EQ(start_outcome(unchecked), "started");
}

}  // namespace
}  // namespace switchboard::client
