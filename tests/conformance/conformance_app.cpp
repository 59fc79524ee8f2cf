// switchboard-conformance: the server app the ASP.NET SignalR JS functional tests expect
// (src/SignalR/clients/ts/FunctionalTests: Startup.cs, TestHub.cs, ...), built on Switchboard.
// Point a SignalR client test suite at it; tests/conformance/README.md tells how.
#include "routes.hpp"
#include "test_hubs.hpp"

#include "server/instance.hpp"
#include "server/server_options.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

namespace {

using namespace switchboard;
using namespace conformance;

void add_endpoints(instance& server) {
    auto callers = std::make_shared<caller_registry>();
    auto tokens = std::make_shared<token_issuer>();
    const auto test_hub = make_test_hub(callers);

    // Hubs read request headers (GetHeader, GetCookie) and get negotiate cookies.
    transport::endpoint_options all_transports;
    all_transports.keep_request_headers = true;
    server.add_route("/testhub", hub_route(server.make_hub_endpoint(test_hub, all_transports)));

    auto no_websockets = all_transports;
    no_websockets.transports =
        transport::server_sent_events_transport | transport::long_polling_transport_bit;
    server.add_route("/testhub-nowebsockets",
                     hub_route(server.make_hub_endpoint(test_hub, no_websockets)));

    transport::endpoint_options authorized;
    authorized.authenticate = [tokens](const http::request& req) {
        return tokens->authenticate(req);
    };
    server.add_route("/authorizedhub", hub_route(server.make_hub_endpoint(make_authorized_hub(),
                                                                          std::move(authorized))));

    server.add_connection_handler("/echo", make_echo_application());

    server.add_route("/generateJwtToken", token_route(tokens));
    server.add_route("/redirect", redirect_route(std::make_shared<std::atomic<int>>(0)));
    server.add_route("/echoredirect", echo_redirect_route());
    server.add_route("/bad-negotiate", bad_negotiate_route());
    server.add_route("/clientresult", client_result_route(callers));
}

int run(server_options options) {
    instance server(std::move(options));
    add_endpoints(server);
    server.run_until_signal([](const std::string&) {});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    CLI::App app{"The ASP.NET SignalR functional-test server app, on Switchboard"};
    server_options options;
    options.listen = "127.0.0.1:0";
    options.static_dir.clear();
    options.cors_origins = {"*"};        // the test server echoes any Origin
    options.hub.detailed_errors = true;  // the tests assert exception types in errors
    std::string log_level = "warn";
    app.add_option("--listen", options.listen, "Address and port to listen on (port 0: any)")
        ->capture_default_str();
    app.add_option("--threads", options.threads, "Shards (threads); 0 = one per core")
        ->capture_default_str();
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    spdlog::set_level(spdlog::level::from_str(log_level));

    try {
        return run(std::move(options));
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
