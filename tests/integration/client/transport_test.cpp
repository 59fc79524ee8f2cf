// The client transports and negotiate against the conformance server (a real process on a free
// port): negotiate and its redirects and errors, and bytes through /echo on every transport.
#include "client/transport/transport.hpp"
#include "client/transport/http_request.hpp"
#include "client/transport/negotiate_client.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::client::detail {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string conformance_binary() {
    if (const char* path = std::getenv("SWITCHBOARD_CONFORMANCE_BIN")) {
        return path;
    }
    // Built next to this test binary (add_dependencies in CMakeLists.txt).
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() /
            "switchboard-conformance")
        .string();
}

// The conformance app on 127.0.0.1 and a port of its choosing, read from its first line.
class conformance_server {
public:
    bool start() {
        const auto binary = conformance_binary();
        if (::access(binary.c_str(), X_OK) != 0) {
            return false;
        }
        int out[2];
        if (::pipe(out) != 0) {
            return false;
        }
        pid_ = ::fork();
        if (pid_ < 0) {
            return false;
        }
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, STDIN_FILENO);
            ::close(out[0]);
            ::execl(binary.c_str(), binary.c_str(), "--listen", "127.0.0.1:0", "--log-level",
                    "warn", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        // Wait for "switchboard listening on http://HOST:PORT\n", against a deadline.
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        std::string output;
        constexpr std::string_view marker = "listening on ";
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd fd{out[0], POLLIN, 0};
            if (::poll(&fd, 1, 100) <= 0) {
                continue;
            }
            char chunk[256];
            const auto n = ::read(out[0], chunk, sizeof chunk);
            if (n <= 0) {
                break;  // exited
            }
            output.append(chunk, static_cast<std::size_t>(n));
            const auto at = output.find(marker);
            const auto end = at == std::string::npos ? at : output.find('\n', at);
            if (end != std::string::npos) {
                base_url_ = output.substr(at + marker.size(), end - at - marker.size());
                break;
            }
        }
        ::close(out[0]);  // the app writes nothing more it needs to
        return !base_url_.empty();
    }

    ~conformance_server() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }

    [[nodiscard]] const std::string& base_url() const { return base_url_; }

private:
    pid_t pid_ = -1;
    std::string base_url_;
};

struct recorder final : transport_listener {
    void on_transport_data(std::string_view bytes) override { data += bytes; }
    void on_transport_closed(std::optional<std::string> error) override {
        ++closes;
        close_error = std::move(error);
    }
    std::string data;
    int closes = 0;
    std::optional<std::string> close_error;
};

class transport_test : public ::testing::Test {
public:
    static void SetUpTestSuite() {
        server_ = new conformance_server;
        if (!server_->start()) {
            delete server_;
            server_ = nullptr;
        }
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        if (server_ == nullptr) {
            GTEST_SKIP() << "switchboard-conformance did not start (" << conformance_binary()
                         << ")";
        }
    }

    http_context context() {
        http_context context;
        context.executor = strand_;
        context.headers = {{"User-Agent", "switchboard-client-tests"}};
        context.request_timeout = 10s;
        return context;
    }

    static boost::urls::url url(const std::string& path_and_query) {
        return boost::urls::url(*boost::urls::parse_uri(server_->base_url() + path_and_query));
    }

    // Runs the loop until `done` holds or `limit` passes; no fixed sleeps.
    template <class Done>
    bool run_until(Done done, std::chrono::seconds limit = 15s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                return false;
            }
            if (io_.stopped()) {
                io_.restart();
            }
            io_.run_one_for(20ms);
        }
        return true;
    }

    // Runs every pending operation to its end (bounded, in case one hangs).
    void drain() {
        io_.restart();
        io_.run_for(10s);
        EXPECT_TRUE(io_.stopped()) << "operations still pending after 10 s";
    }

    expected<negotiation> negotiate_at(const boost::urls::url& hub, http_context ctx) {
        std::optional<expected<negotiation>> result;
        negotiate(ctx, hub, false,
                  [&](expected<negotiation> outcome) { result = std::move(outcome); });
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        if (!result) {
            return make_error("negotiate did not complete");
        }
        return std::move(*result);
    }

    // Negotiates /echo and connects `type` to it.
    std::shared_ptr<transport> start_echo(transport_type type, transfer_format format,
                                          recorder& events,
                                          boost::urls::url* connect_url = nullptr) {
        const auto negotiated = negotiate_at(url("/echo"), context());
        EXPECT_TRUE(negotiated) << negotiated.error_message();
        if (!negotiated) {
            return nullptr;
        }
        auto target = negotiated->hub_url;
        target.params().append({"id", negotiated->response.connection_token});
        if (connect_url != nullptr) {
            *connect_url = target;
        }
        auto transport = make_transport(type, context(), events);
        std::optional<expected<void>> started;
        transport->start(target, format, [&](expected<void> result) { started = result; });
        EXPECT_TRUE(run_until([&] { return started.has_value(); }));
        EXPECT_TRUE(started && *started) << (started ? started->error_message() : "");
        return started && *started ? transport : nullptr;
    }

    void expect_echo(transport_type type, transfer_format format, const std::string& payload) {
        recorder events;
        auto transport = start_echo(type, format, events);
        ASSERT_TRUE(transport);
        EXPECT_EQ(transport->type(), type);
        transport->send(payload);
        ASSERT_TRUE(run_until([&] { return events.data.size() >= payload.size(); }))
            << transport_name(type) << " got '" << events.data << "'";
        EXPECT_EQ(events.data, payload);
        // Several sends while one is in flight still arrive, in order.
        events.data.clear();
        transport->send("a\x1e");
        transport->send("b\x1e");
        transport->send("c\x1e");
        ASSERT_TRUE(run_until([&] { return events.data.size() >= 6; }));
        EXPECT_EQ(events.data,
                  "a\x1e"
                  "b\x1e"
                  "c\x1e");
        // The echo may overtake the answer to the POST that carried it.
        EXPECT_TRUE(run_until([&] { return transport->buffered_bytes() == 0; }));
        transport->stop();
        transport->stop();  // idempotent
        // Silence after stop: the loop runs until the close (frame, DELETE, cancelled reads)
        // has nothing left to do.
        transport.reset();
        drain();
        EXPECT_EQ(events.closes, 0);
    }

protected:
    static inline conformance_server* server_ = nullptr;
    asio::io_context io_;
    asio::strand<asio::io_context::executor_type> strand_ = asio::make_strand(io_);
};

using transport_test_access = transport_test;

TEST_F(transport_test, negotiate_lists_three_transports) {
    const auto negotiated = negotiate_at(url("/testhub"), context());
    ASSERT_TRUE(negotiated) << negotiated.error_message();
    const auto& response = negotiated->response;
    EXPECT_EQ(response.negotiate_version, 1);
    EXPECT_FALSE(response.connection_id.empty());
    EXPECT_FALSE(response.connection_token.empty());
    ASSERT_EQ(response.transports.size(), 3u);
    EXPECT_EQ(response.transports[0].type, transport_type::websockets);
    EXPECT_EQ(response.transports[1].type, transport_type::server_sent_events);
    EXPECT_EQ(response.transports[2].type, transport_type::long_polling);
    EXPECT_EQ(negotiated->hub_url.path(), "/testhub");
}

TEST_F(transport_test, negotiate_without_websockets) {
    const auto negotiated = negotiate_at(url("/testhub-nowebsockets"), context());
    ASSERT_TRUE(negotiated) << negotiated.error_message();
    ASSERT_EQ(negotiated->response.transports.size(), 2u);
    EXPECT_EQ(negotiated->response.transports[0].type, transport_type::server_sent_events);
}

TEST_F(transport_test, negotiate_follows_redirects) {
    auto ctx = context();
    ctx.access_token = "caller-token";
    const auto negotiated = negotiate_at(url("/redirect?baseUrl=" + server_->base_url()), ctx);
    ASSERT_TRUE(negotiated) << negotiated.error_message();
    EXPECT_EQ(negotiated->hub_url.path(), "/testHub");
    EXPECT_TRUE(boost::urls::url_view(negotiated->hub_url).params().contains("numRedirects"));
    EXPECT_EQ(negotiated->access_token, "caller-token");  // the redirect carried none
    EXPECT_FALSE(negotiated->response.connection_token.empty());
    EXPECT_EQ(negotiated->response.transports.size(), 3u);
}

TEST_F(transport_test, negotiate_reports_http_errors) {
    const auto missing = negotiate_at(url("/no-such-hub"), context());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error_message().rfind("Failed to complete negotiation with the server: ", 0),
              0u)
        << missing.error_message();
    EXPECT_NE(missing.error_message().find("Status code '404'"), std::string::npos)
        << missing.error_message();

    const auto bad = negotiate_at(url("/bad-negotiate"), context());
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error_message(),
              "Failed to complete negotiation with the server: Some response from server: Status "
              "code '400'");
}

TEST_F(transport_test, negotiate_reports_connection_failure) {
    // A port nothing listens on: the conformance server's, plus one, is not guaranteed free,
    // so use the discard port on loopback, which a test machine does not serve.
    const auto refused = negotiate_at(boost::urls::url("http://127.0.0.1:9/hub"), context());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error_message().rfind("Failed to complete negotiation with the server: ", 0),
              0u)
        << refused.error_message();
}

TEST_F(transport_test, websockets_echo) {
    expect_echo(transport_type::websockets, transfer_format::text, "hello\x1e");
}

TEST_F(transport_test, websockets_echo_binary) {
    expect_echo(transport_type::websockets, transfer_format::binary,
                std::string("\x02\x01\x00", 3));
}

TEST_F(transport_test, server_sent_events_echo) {
    expect_echo(transport_type::server_sent_events, transfer_format::text, "hello\x1e");
}

TEST_F(transport_test, long_polling_echo) {
    expect_echo(transport_type::long_polling, transfer_format::text, "hello\x1e");
}

TEST_F(transport_test, long_polling_echo_binary) {
    expect_echo(transport_type::long_polling, transfer_format::binary,
                std::string("\x02\x01\x00", 3));
}

// A hub the client leaves with a Close message: the server ends the connection, which each
// transport reports as a clean close (WebSocket 1000, end of the event stream, poll 204).
void expect_clean_server_close(transport_test_access& test, transport_type type) {
    recorder events;
    const auto negotiated = test.negotiate_at(test.url("/testhub"), test.context());
    ASSERT_TRUE(negotiated) << negotiated.error_message();
    auto target = negotiated->hub_url;
    target.params().append({"id", negotiated->response.connection_token});
    auto transport = make_transport(type, test.context(), events);
    std::optional<expected<void>> started;
    transport->start(target, transfer_format::text,
                     [&](expected<void> result) { started = result; });
    ASSERT_TRUE(test.run_until([&] { return started.has_value(); }));
    ASSERT_TRUE(*started) << started->error_message();
    transport->send("{\"protocol\":\"json\",\"version\":1}\x1e");
    ASSERT_TRUE(test.run_until([&] { return events.data.find("{}\x1e") == 0; }))
        << transport_name(type) << ": " << events.data;
    transport->send("{\"type\":7}\x1e");
    ASSERT_TRUE(test.run_until([&] { return events.closes > 0; })) << transport_name(type);
    EXPECT_EQ(events.closes, 1);
    EXPECT_FALSE(events.close_error) << *events.close_error;
    transport->stop();
    transport.reset();
    test.drain();
    EXPECT_EQ(events.closes, 1);
}

TEST_F(transport_test, websockets_clean_close) {
    expect_clean_server_close(*this, transport_type::websockets);
}

TEST_F(transport_test, server_sent_events_clean_close) {
    expect_clean_server_close(*this, transport_type::server_sent_events);
}

TEST_F(transport_test, long_polling_clean_close) {
    expect_clean_server_close(*this, transport_type::long_polling);
}

TEST_F(transport_test, server_sent_events_refuse_binary) {
    recorder events;
    auto transport = make_transport(transport_type::server_sent_events, context(), events);
    std::optional<expected<void>> started;
    transport->start(url("/echo?id=x"), transfer_format::binary,
                     [&](expected<void> result) { started = result; });
    ASSERT_TRUE(run_until([&] { return started.has_value(); }));
    ASSERT_FALSE(*started);
    EXPECT_NE(started->error_message().find("'Binary'"), std::string::npos);
}

TEST_F(transport_test, long_polling_stop_deletes_the_connection) {
    recorder events;
    boost::urls::url connect_url;
    auto transport =
        start_echo(transport_type::long_polling, transfer_format::text, events, &connect_url);
    ASSERT_TRUE(transport);
    transport->stop();
    // The DELETE disposes the connection: a POST to it soon answers 404.
    std::optional<unsigned> status;
    const bool gone = run_until([&] {
        if (status && *status == 404) {
            return true;
        }
        if (!status || *status != 0) {
            status = 0;  // a POST in flight
            http_request request;
            request.method = boost::beast::http::verb::post;
            request.url = connect_url;
            request.timeout = 5s;
            send_http_request(context(), std::move(request),
                              [&](expected<http_response> r) { status = r ? r->status : 1; });
        }
        return false;
    });
    EXPECT_TRUE(gone) << "last status " << status.value_or(0);
    EXPECT_EQ(events.closes, 0);
}

TEST_F(transport_test, server_sent_events_refused_for_unknown_id) {
    recorder events;
    auto transport = make_transport(transport_type::server_sent_events, context(), events);
    std::optional<expected<void>> started;
    transport->start(url("/echo?id=unknown"), transfer_format::text,
                     [&](expected<void> result) { started = result; });
    ASSERT_TRUE(run_until([&] { return started.has_value(); }));
    ASSERT_FALSE(*started);
    EXPECT_NE(started->error_message().find("404"), std::string::npos) << started->error_message();
}

TEST_F(transport_test, websocket_upgrade_refused_for_unknown_id) {
    recorder events;
    auto transport = make_transport(transport_type::websockets, context(), events);
    std::optional<expected<void>> started;
    transport->start(url("/echo?id=unknown"), transfer_format::text,
                     [&](expected<void> result) { started = result; });
    ASSERT_TRUE(run_until([&] { return started.has_value(); }));
    ASSERT_FALSE(*started);
    EXPECT_NE(started->error_message().find("status code 404"), std::string::npos)
        << started->error_message();
    EXPECT_EQ(events.closes, 0);
}

}  // namespace
}  // namespace switchboard::client::detail
