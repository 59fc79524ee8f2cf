#include "apps/publish.hpp"

#include "api/access_key.hpp"
#include "auth/jwt.hpp"
#include "client/transport/http_request.hpp"
#include "client/transport/tls_client.hpp"
#include "routing/publication_json.hpp"
#include "server/backends.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>

namespace switchboard::apps {

namespace {

void report(const std::string& where, const std::string& message) {
    std::fprintf(stderr, "publish: %s%s\n", where.c_str(), message.c_str());
}

std::string segment(std::string_view name) {
    return boost::urls::encode(name, boost::urls::pchars);
}

// The REST API side of `publish`: each publication becomes one request per addressed name.
class rest_sender {
public:
    rest_sender(boost::urls::url base, std::string key, std::string hub,
                std::chrono::milliseconds timeout)
        : base_(std::move(base)), key_(std::move(key)), hub_(std::move(hub)), timeout_(timeout) {
        http_.executor = context_.get_executor();
        http_.headers = {{"User-Agent", "switchboard-publish"}};
    }

    expected<void> prepare() {
        if (base_.scheme() == "https") {
            auto tls = client::detail::make_client_tls_context(true, {});
            if (!tls) {
                return tls.get_error();
            }
            http_.tls = std::move(*tls);
        }
        return {};
    }

    // 0 sent, else the exit status (publish_exit_usage: the server refused it, 4xx).
    int send(const routing::publication& p, const std::string& at) {
        const auto body = boost::json::serialize(
            boost::json::object{{"target", p.target}, {"arguments", p.arguments}});
        for (const auto& [path, query] : rest_requests(hub_, p.to)) {
            boost::urls::url url = base_;
            std::string full(base_.encoded_path());
            while (!full.empty() && full.back() == '/') {
                full.pop_back();
            }
            full += path;
            url.set_encoded_path(full);
            // The audience is the URL without its query (the server compares host and path).
            const auto audience = std::string(url.buffer());
            url.set_encoded_query("api-version=2022-06-01" + query);
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            http_.access_token = auth::issue_hs256(
                boost::json::object{{"aud", audience}, {"iat", now}, {"exp", now + 300}}, key_);
            client::detail::http_request request;
            request.method = boost::beast::http::verb::post;
            request.url = std::move(url);
            request.body = body;
            request.content_type = "application/json";
            request.timeout = timeout_;
            request.body_limit = 64 * 1024;
            std::optional<expected<client::detail::http_response>> outcome;
            client::detail::send_http_request(
                http_, std::move(request),
                [&outcome](expected<client::detail::http_response> r) { outcome = std::move(r); });
            context_.restart();
            context_.run();
            if (!outcome || !*outcome) {
                report(at, outcome ? outcome->error_message() : "no answer");
                return publish_exit_failed;
            }
            const auto& response = **outcome;
            if (response.status != 202) {
                report(at, "the server answered " + std::to_string(response.status) +
                               (response.body.empty() ? std::string() : ": " + response.body));
                return response.status >= 400 && response.status < 500 ? publish_exit_usage
                                                                       : publish_exit_failed;
            }
        }
        return 0;
    }

private:
    boost::asio::io_context context_;
    client::detail::http_context http_;
    boost::urls::url base_;
    std::string key_;
    std::string hub_;
    std::chrono::milliseconds timeout_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> rest_requests(const std::string& hub,
                                                               const routing::recipients& to) {
    const auto root = "/api/hubs/" + segment(hub);
    std::string excluded;
    for (const auto& id : to.excluded) {
        excluded += "&excluded=";
        excluded += boost::urls::encode(id, boost::urls::unreserved_chars);
    }
    std::vector<std::pair<std::string, std::string>> out;
    const auto each = [&](std::string_view kind, std::string_view query) {
        for (const auto& name : to.names) {
            out.emplace_back(root + "/" + std::string(kind) + "/" + segment(name) + "/:send",
                             std::string(query));
        }
    };
    switch (to.type) {
    case routing::recipients::kind::all:
        out.emplace_back(root + "/:send", excluded);
        break;
    case routing::recipients::kind::users:
        each("users", {});
        break;
    case routing::recipients::kind::groups:
        each("groups", excluded);
        break;
    case routing::recipients::kind::connections:
        each("connections", {});
        break;
    }
    return out;
}

expected<routing::recipients> recipients_of(const publish_options& options) {
    routing::recipients to;
    int kinds = options.all ? 1 : 0;
    if (!options.users.empty()) {
        to.type = routing::recipients::kind::users;
        to.names = options.users;
        ++kinds;
    }
    if (!options.groups.empty()) {
        to.type = routing::recipients::kind::groups;
        to.names = options.groups;
        ++kinds;
    }
    if (!options.connections.empty()) {
        to.type = routing::recipients::kind::connections;
        to.names = options.connections;
        ++kinds;
    }
    if (kinds > 1) {
        return make_error("--all, --user, --group and --connection exclude each other");
    }
    to.excluded = options.excluded;
    return to;
}

namespace {

// Publishes each non-blank stdin line (defaults from the flags) with `publish`, which answers
// 0, publish_exit_usage (that line is refused; go on) or publish_exit_failed (stop). Returns
// the exit status: the failure, else publish_exit_usage when a line was bad, else 0.
int publish_lines(
    const routing::publication& defaults,
    const std::function<int(const routing::publication&, const std::string&)>& publish) {
    int status = 0;
    std::string line;
    for (std::size_t number = 1; std::getline(std::cin, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        // By appends: GCC 12 warns falsely (-Wrestrict) on "line " + std::to_string(...).
        std::string at = "line ";
        at.append(std::to_string(number)).append(": ");
        auto publication = routing::parse_publication_line(line, defaults);
        if (!publication) {
            report(at, publication.error_message());
            status = publish_exit_usage;
            continue;
        }
        if (const int sent = publish(*publication, at); sent == publish_exit_failed) {
            return sent;  // the next lines would fail the same way
        } else if (sent != 0) {
            status = sent;
        }
    }
    return status;
}

}  // namespace

int run_publish(const publish_options& options) {
    if (options.hub.empty()) {
        report("", "--hub is required (the hub's backplane name)");
        return publish_exit_usage;
    }
    const bool rest = !options.url.empty() || !options.connection_string.empty();
    if (rest && !options.backplane.empty()) {
        report("", "--backplane and --url/--connection-string exclude each other");
        return publish_exit_usage;
    }
    std::unique_ptr<rest_sender> sender;
    if (rest) {
        std::string endpoint = options.url;
        std::string key = options.access_key;
        if (!options.connection_string.empty()) {
            auto parsed = api::parse_connection_string(options.connection_string);
            if (!parsed) {
                report("", "--connection-string: " + parsed.error_message());
                return publish_exit_usage;
            }
            if (endpoint.empty()) {
                endpoint = parsed->endpoint;
                if (parsed->port) {
                    auto url = boost::urls::parse_uri(endpoint);
                    if (url) {
                        boost::urls::url with_port = *url;
                        with_port.set_port_number(*parsed->port);
                        endpoint = std::string(with_port.buffer());
                    }
                }
            }
            key = parsed->access_key;
        }
        auto base = boost::urls::parse_uri(endpoint);
        if (!base || (base->scheme() != "http" && base->scheme() != "https")) {
            report("", "--url must be an http(s) URL of a server: " + endpoint);
            return publish_exit_usage;
        }
        if (key.empty()) {
            report("", "--url needs --access-key (or use --connection-string)");
            return publish_exit_usage;
        }
        sender = std::make_unique<rest_sender>(*base, key, options.hub, options.timeout);
        if (auto ready = sender->prepare(); !ready) {
            report("", ready.error_message());
            return publish_exit_usage;
        }
    } else if (options.backplane.empty() || backplanes().name_of(options.backplane) == "memory") {
        report("",
               "--backplane must name a shared bus (redis://..., a PostgreSQL or NATS "
               "spec): the in-memory bus of one process reaches no server");
        return publish_exit_usage;
    }
    auto to = recipients_of(options);
    if (!to) {
        report("", to.error_message());
        return publish_exit_usage;
    }
    routing::publication defaults;
    defaults.to = std::move(*to);

    // The command line's publication is checked before anything connects.
    std::optional<routing::publication> single;
    if (!options.target.empty()) {
        auto arguments = routing::parse_arguments(options.arguments);
        if (!arguments) {
            report("", arguments.error_message());
            return publish_exit_usage;
        }
        single = defaults;
        single->target = options.target;
        single->arguments = std::move(*arguments);
        if (auto ok = routing::check_publication(*single); !ok) {
            report("", ok.error_message());
            return publish_exit_usage;
        }
    }

    if (sender) {
        if (single) {
            return sender->send(*single, {});
        }
        return publish_lines(defaults, [&](const routing::publication& p, const std::string& at) {
            return sender->send(p, at);
        });
    }

    std::unique_ptr<routing::blocking_publisher> publisher;
    try {
        routing::publisher_options settings;
        settings.hub = options.hub;
        settings.channel_prefix = options.channel_prefix;
        publisher = std::make_unique<routing::blocking_publisher>(
            backplane_maker(options.backplane), std::move(settings));
    } catch (const std::exception& e) {
        report("", e.what());
        return publish_exit_usage;
    }
    const auto where = backplanes().redact(options.backplane);
    if (auto connected = publisher->connect(options.timeout); !connected) {
        report("", where + ": " + connected.error_message());
        return publish_exit_failed;
    }

    int status = 0;
    if (single) {
        if (auto ok = publisher->publish(*single); !ok) {
            report("", ok.error_message());
            return publish_exit_usage;
        }
    } else {
        status = publish_lines(defaults, [&](const routing::publication& p, const std::string& at) {
            if (auto ok = publisher->publish(p); !ok) {
                report(at, ok.error_message());
                return publish_exit_usage;
            }
            return 0;
        });
    }
    // Exiting before the bus confirmed would lose what is still in the socket's buffers.
    if (auto flushed = publisher->flush(options.timeout); !flushed) {
        report("", where + ": " + flushed.error_message());
        return publish_exit_failed;
    }
    return status;
}

}  // namespace switchboard::apps
