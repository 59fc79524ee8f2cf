// NATS backplane specs: URL lists, credentials, query options, the errors for malformed ones
// and redaction.
#include "routing/nats/connection_string.hpp"

#include "routing/backplane_factory.hpp"
#include "routing/nats/nats_registration.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace switchboard::routing::nats {
namespace {

using strings = std::vector<std::string>;

std::string parse_error(std::string_view text) {
    try {
        (void)parse_connection_string(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << text;
    return {};
}

TEST(nats_connection_string, one_url_takes_the_defaults) {
    const auto o = parse_connection_string("nats://127.0.0.1");
    EXPECT_EQ(o.servers, strings{"nats://127.0.0.1:4222"});
    EXPECT_FALSE(o.tls);
    EXPECT_TRUE(o.user.empty() && o.password.empty() && o.token.empty() && o.creds_file.empty());
    EXPECT_EQ(o.subject_prefix, "switchboard.");
    EXPECT_EQ(o.name, "switchboard");
}

TEST(nats_connection_string, a_list_names_every_server) {
    const auto o = parse_connection_string(" nats://a:4222, NATS://b:4223 ,nats://[::1]:4224/");
    EXPECT_EQ(o.servers, (strings{"nats://a:4222", "nats://b:4223", "nats://[::1]:4224"}));
}

TEST(nats_connection_string, user_and_password_leave_the_urls) {
    const auto o = parse_connection_string("nats://alice:p%40ss:w@a:4222,nats://alice:p%40ss:w@b");
    EXPECT_EQ(o.user, "alice");
    EXPECT_EQ(o.password, "p@ss:w");
    EXPECT_TRUE(o.token.empty());
    EXPECT_EQ(o.servers, (strings{"nats://a:4222", "nats://b:4222"}));
}

TEST(nats_connection_string, a_lone_userinfo_is_a_token) {
    const auto o = parse_connection_string("nats://s3cr3t@host:4222");
    EXPECT_EQ(o.token, "s3cr3t");
    EXPECT_TRUE(o.user.empty());
    EXPECT_TRUE(o.password.empty());
}

TEST(nats_connection_string, creds_prefix_and_name_from_the_query) {
    const auto o = parse_connection_string(
        "nats://a:4222,nats://b:4222?creds=/etc/nats/app.creds&prefix=acme.prod&name=edge-1");
    EXPECT_EQ(o.creds_file, "/etc/nats/app.creds");
    EXPECT_EQ(o.subject_prefix, "acme.prod.");
    EXPECT_EQ(o.name, "edge-1");
    EXPECT_EQ(parse_connection_string("nats://a?prefix=").subject_prefix, "");
    EXPECT_EQ(parse_connection_string("nats://a?prefix=x.").subject_prefix, "x.");
    EXPECT_EQ(o.presence_replicas, 1);
    EXPECT_EQ(parse_connection_string("nats://a?presence_replicas=3").presence_replicas, 3);
}

TEST(nats_connection_string, tls_options) {
    const auto o = parse_connection_string(
        "tls://nats.example:4443?tls_ca=/ca.pem&tls_cert=/c.pem&tls_key=/k.pem&tls_hostname=n1"
        "&tls_insecure=true");
    EXPECT_TRUE(o.tls);
    EXPECT_EQ(o.servers, strings{"tls://nats.example:4443"});
    EXPECT_EQ(o.tls_ca_file, "/ca.pem");
    EXPECT_EQ(o.tls_cert_file, "/c.pem");
    EXPECT_EQ(o.tls_key_file, "/k.pem");
    EXPECT_EQ(o.tls_hostname, "n1");
    EXPECT_TRUE(o.tls_insecure_skip_verify);
}

TEST(nats_connection_string, errors_name_the_key_or_the_url) {
    EXPECT_NE(parse_error("nats://a?colour=blue").find("'colour'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a?tls_ca=/x").find("'tls_ca' needs tls://"), std::string::npos);
    EXPECT_NE(parse_error("tls://a?tls_cert=/c").find("'tls_key'"), std::string::npos);
    EXPECT_NE(parse_error("tls://a?tls_insecure=maybe").find("'tls_insecure'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a?prefix=a..b").find("'prefix'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a?prefix=a*").find("'prefix'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a?presence_replicas=6").find("'presence_replicas'"),
              std::string::npos);
    EXPECT_NE(parse_error("nats://a?presence_replicas=").find("'presence_replicas'"),
              std::string::npos);
    EXPECT_NE(parse_error("nats://u:p@a?creds=/f").find("'creds'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a:0").find("port '0'"), std::string::npos);
    EXPECT_NE(parse_error("nats://a:99999").find("port"), std::string::npos);
    EXPECT_NE(parse_error("nats://a/path").find("path"), std::string::npos);
    EXPECT_NE(parse_error("http://a").find("nats:// or tls://"), std::string::npos);
    EXPECT_NE(parse_error("nats://a,tls://b").find("mixes"), std::string::npos);
    EXPECT_NE(parse_error("nats://a?name=x,nats://b").find("after the last URL"),
              std::string::npos);
    EXPECT_NE(parse_error("nats://a,,nats://b").find("empty URL"), std::string::npos);
    EXPECT_NE(parse_error("").find("empty"), std::string::npos);
}

TEST(nats_connection_string, errors_name_no_secret) {
    const auto message = parse_error("nats://u:hunter2@a,nats://u:other@b");
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_EQ(message.find("other"), std::string::npos) << message;
    EXPECT_NE(message.find("differ"), std::string::npos) << message;
    EXPECT_EQ(parse_error("nats://tok3n@a/p").find("tok3n"), std::string::npos);
}

TEST(nats_connection_string, redaction_hides_passwords_and_tokens) {
    EXPECT_EQ(redact_connection_string("nats://alice:secret@a:4222,nats://tok@b:4223?name=x"),
              "nats://alice:***@a:4222,nats://***@b:4223?name=x");
    EXPECT_EQ(redact_connection_string("tls://a:4222?creds=/f.creds"),
              "tls://a:4222?creds=/f.creds");
    EXPECT_EQ(redact_connection_string("nats://u:p@ss@h"), "nats://u:***@h");
    EXPECT_EQ(redact_connection_string("garbage"), "garbage");
}

TEST(nats_registration, the_factory_routes_nats_and_tls_urls_here) {
    backplane_factory factory;
    register_nats_backplane(factory);
    EXPECT_EQ(factory.redact("NATS://u:pw@h:1,nats://h2"), "NATS://u:***@h:1,nats://h2");
    EXPECT_EQ(factory.redact("tls://t@h"), "tls://***@h");
    EXPECT_NE(factory.describe().find("nats://"), std::string::npos);
    boost::asio::io_context context;
    backplane_settings settings;
    settings.control = &context;
    try {
        (void)factory.make("nats://h?bogus=1", settings);
        ADD_FAILURE() << "an unknown parameter was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("'bogus'"), std::string::npos) << e.what();
    }
    try {
        (void)factory.make("tls://h?tls_ca=/nonexistent/ca.pem", settings);
        ADD_FAILURE() << "an unreadable CA file was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("tls_ca"), std::string::npos) << e.what();
    }
    // Built but not started: no thread, no connection; destroyed cleanly.
    auto made = factory.make("nats://127.0.0.1:1", settings);
    ASSERT_NE(made.bus, nullptr);
    EXPECT_FALSE(made.bus->connected());
    EXPECT_EQ(made.bus->codec().to_bus("a.b"), "switchboard.a%2Eb");
}

}  // namespace
}  // namespace switchboard::routing::nats
