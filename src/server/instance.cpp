#include "server/instance.hpp"

#include "routing/durable/sessions.hpp"

#include "api/rest_api.hpp"
#include "auth/bearer.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/shard_pool.hpp"
#include "events/http_api.hpp"
#include "events/registry.hpp"
#include "http/server.hpp"
#include "http/tls.hpp"
#include "hub/hub_server.hpp"
#include "presence/memory/memory_presence_store.hpp"
#include "routing/router.hpp"
#include "server/backends.hpp"
#include "server/counting_backplane.hpp"
#include "transport/admission.hpp"
#include "transport/connection_manager.hpp"
#include "transport/endpoint.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace switchboard {

namespace asio = boost::asio;

namespace {

std::size_t shard_count(const server_options& options) {
    return options.threads == 0 ? std::max(1U, std::thread::hardware_concurrency())
                                : options.threads;
}

std::string default_server_name() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) {
        host[0] = '\0';
    }
    // ASP.NET uses MachineName_Guid: unique per process run, readable in Redis MONITOR.
    return std::string(host.data()) + "_" + make_random_id();
}

routing::made_backplane make_backplane(const server_options& options, shard_pool& shards,
                                       routing::router_options& router) {
    routing::backplane_settings settings;
    settings.control = &shards.context(routing::router::control_shard);
    settings.max_buffered_bytes = options.backplane_buffer_size;
    settings.database_schema = options.postgres_schema;
    settings.durable_window = options.durable_window;
    settings.durable_max_entries = options.durable_max_entries;
    settings.durable_max_bytes = options.durable_max_bytes;
    settings.server_name = router.server_name;
    auto made = backplanes().make(options.backplane, settings);
    if (options.durable_window.count() > 0 && made.log == nullptr) {
        throw std::runtime_error(
            "--durable-window: durable mode needs a backplane that keeps a log (Redis, "
            "PostgreSQL, NATS)");
    }
    for (const auto& note : made.notes) {
        spdlog::warn("--backplane: {}", note);
    }
    router.channel_prefix = options.channel_prefix.value_or(std::move(made.channel_prefix));
    return made;
}

// The bus's shared event history, unless turned off or the bus keeps none.
std::unique_ptr<events::history_store> make_event_history(const server_options& options,
                                                          const routing::made_backplane& made,
                                                          const std::string& channel_prefix) {
    if (!options.events.shared_history || !made.make_event_history) {
        return nullptr;
    }
    events::history_store_options settings;
    settings.key_prefix = channel_prefix;
    settings.max_count = options.events.history;
    settings.max_age = options.events.history_age;
    return made.make_event_history(std::move(settings));
}

// The bus's presence store; per instance in memory when the bus shares none.
std::unique_ptr<presence::store> make_presence(const server_options& options,
                                               const routing::made_backplane& made,
                                               const routing::backplane& bus,
                                               const routing::router_options& router,
                                               shard_pool& shards) {
    if (!options.presence) {
        return nullptr;
    }
    presence::store_options settings;
    settings.key_prefix = router.channel_prefix;
    // An incarnation: a restart under the same --server-name never revives the old entries.
    settings.instance = router.server_name + "#" + make_random_id().substr(0, 8);
    settings.expiry = options.presence_expiry;
    settings.heartbeat_interval = std::max<std::chrono::milliseconds>(
        options.presence_expiry / 3, std::chrono::milliseconds(100));
    if (made.make_presence) {
        return made.make_presence(std::move(settings));
    }
    if (bus.shared()) {
        spdlog::warn(
            "presence: this backplane keeps no shared presence yet; each instance "
            "answers for its own connections");
    }
    return std::make_unique<presence::memory_store>(shards.context(routing::router::control_shard),
                                                    settings.instance);
}

routing::router_options router_settings(const server_options& options, metrics& counters) {
    routing::router_options settings;
    settings.max_groups_per_connection = options.max_groups_per_connection;
    settings.group_limit_rejections = &counters.rejections_of(metric_limit::groups_per_connection);
    settings.server_name =
        options.server_name.empty() ? default_server_name() : options.server_name;
    settings.group_ack_timeout = options.group_ack_timeout;
    return settings;
}

transport::admission_options admission_settings(const server_options& options) {
    return {options.max_connections, options.max_connections_per_ip,
            options.max_connections_per_user,
            rate_limit{options.negotiate_rate_per_ip, options.negotiate_burst_per_ip}};
}

}  // namespace

struct instance::parts {
    explicit parts(server_options o)
        : options(std::move(o)),
          authenticate(make_authenticate(options.auth)),
          tls(make_tls(options)),
          admission(admission_settings(options), &counters),
          shards(shard_count(options)),
          router_options(router_settings(options, counters)),
          made_bus(make_backplane(options, shards, router_options)),
          backplane(std::make_unique<counting_backplane>(std::move(made_bus.bus))),
          event_history(make_event_history(options, made_bus, router_options.channel_prefix)),
          presence(make_presence(options, made_bus, *backplane, router_options, shards)),
          router(shards, *backplane, router_options),
          events(shards, *backplane, router_options.channel_prefix, events_settings(options),
                 &counters, event_history.get()),
          events_http(events, authenticate, router_options.server_name, &counters),
          hubs(shards, router, options.hub),
          rest(shards, router, *backplane, hubs, options.rest, &counters),
          connections(options.hub.disconnect_timeout),
          http(shards, http_settings(options, tls)) {}

    server_options options;
    // Before everything else: bad key files (JWT, TLS) stop startup before threads or Redis.
    http::authenticate_hook authenticate;
    std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain http and ws
    // Before the shards: connections still ending while the shards are torn down count here.
    switchboard::metrics counters;
    transport::admission_control admission;
    shard_pool shards;
    routing::router_options router_options;
    routing::made_backplane made_bus;  // its bus moves to `backplane`
    std::unique_ptr<counting_backplane> backplane;
    // Redis Streams beside a Redis bus (events/history_store.hpp); null: per-instance only.
    std::unique_ptr<events::history_store> event_history;
    std::unique_ptr<presence::store> presence;  // null: --presence false
    routing::router router;
    // Durable mode's stateful connections; made at start(), once every hub is added.
    std::unique_ptr<routing::durable::sessions> durable;
    events::registry events;
    events::http_api events_http;
    hub::hub_server hubs;
    api::rest_api rest;
    transport::connection_manager connections;
    http::server http;
    std::vector<std::shared_ptr<transport::endpoint>> endpoints;
    bool running = false;

    static http::server_settings http_settings(const server_options& o,
                                               std::shared_ptr<boost::asio::ssl::context> tls) {
        http::server_settings settings{o.cors_origins,  o.static_dir,   o.max_header_size,
                                       o.max_body_size, std::move(tls), {}};
        // REST calls carry messages up to the service's 1 MB; hub endpoints keep their limit.
        settings.body_limits.emplace_back("/api/hubs", o.rest.max_body_size);
        settings.body_limits.emplace_back("/api/v1/hubs", o.rest.max_body_size);
        settings.access_log = o.access_log;
        return settings;
    }

    static events::events_options events_settings(const server_options& o) {
        auto settings = o.events;
        settings.queue_limit = o.hub.send_queue_limit;
        return settings;
    }

    static std::shared_ptr<boost::asio::ssl::context> make_tls(const server_options& o) {
        if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
            return nullptr;
        }
        return http::make_server_tls_context(o.tls_cert_file, o.tls_key_file);
    }

    static http::authenticate_hook make_authenticate(const auth_options& auth) {
        auto validator = auth::make_jwt_validator(auth);
        return validator ? auth::make_jwt_authenticator(std::move(validator))
                         : http::authenticate_hook{};
    }

    // Durable mode: a stateful reconnect unknown here may be a connection another instance
    // held, and one known here may have been taken over since; the sessions exist once the
    // instance started, before any request.
    void set_durable_hooks(transport::endpoint_options& settings, routing::hub_id hub) {
        if (made_bus.log == nullptr) {
            return;
        }
        settings.adopt =
            [this, hub](std::string token, std::string user,
                        std::function<void(transport::endpoint_options::adopted_connection)> done) {
                durable->claim(
                    hub, std::move(token), std::move(user),
                    [done = std::move(done)](routing::durable::claim_outcome outcome) {
                        transport::endpoint_options::adopted_connection adopted;
                        if (outcome.claimed) {
                            adopted.connection_id = outcome.claimed->record.connection_id;
                            adopted.state =
                                std::make_shared<const routing::durable::claimed_session>(
                                    std::move(*outcome.claimed));
                        } else if (outcome.failure == routing::durable::claim_failure::forbidden) {
                            adopted.refusal = 403;
                        } else if (outcome.failure ==
                                   routing::durable::claim_failure::unavailable) {
                            adopted.refusal = 503;
                        }
                        done(std::move(adopted));
                    });
            };
        settings.confirm_resume = [this](std::string connection_id,
                                         std::function<void(bool)> done) {
            durable->confirm(std::move(connection_id), std::move(done));
        };
    }

    // Hub endpoints authenticate with the configured keys unless the caller brought its own
    // hook (the conformance app's /authorizedhub).
    std::shared_ptr<transport::endpoint> make_hub_endpoint(transport::endpoint_options settings,
                                                           transport::application_factory factory) {
        if (!settings.authenticate) {
            settings.authenticate = authenticate;
        }
        return make_endpoint(std::move(settings), std::move(factory));
    }

    // The endpoint's check of the hub's policy; refuses configurations where no identity could
    // ever satisfy it, rather than locking every client out.
    std::function<bool(const switchboard::identity*)> authorizer(
        const hub::hub_definition& definition, const transport::endpoint_options& settings) const {
        const auto& policy = definition.policy();
        if (!policy.restricts()) {
            return {};
        }
        if (!settings.authenticate && !authenticate) {
            throw std::runtime_error("hub '" + definition.name() +
                                     "' requires authorization, but no JWT key is configured "
                                     "(--jwt-secret, --jwt-public-key or --jwks-file)");
        }
        return [policy](const switchboard::identity* who) { return policy.allows(who); };
    }

    std::shared_ptr<transport::endpoint> make_endpoint(transport::endpoint_options settings,
                                                       transport::application_factory factory) {
        settings.long_polling.disconnect_timeout = options.hub.disconnect_timeout;
        settings.instance_name = options.server_name;
        settings.admission = &admission;
        settings.metrics = &counters;
        return endpoints.emplace_back(std::make_shared<transport::endpoint>(
            shards, connections, options.hub, std::move(settings), std::move(factory)));
    }
    void add_endpoint(const std::string& path, transport::endpoint_options settings,
                      transport::application_factory factory, bool hub = false) {
        auto ep = hub ? make_hub_endpoint(std::move(settings), std::move(factory))
                      : make_endpoint(std::move(settings), std::move(factory));
        http.add_prefix_handler(path, [ep](http::request& req, std::string_view sub,
                                           std::shared_ptr<http::exchange> ex) {
            ep->handle(req, sub, std::move(ex));
        });
    }
};

asio::ip::tcp::endpoint parse_listen_address(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        throw std::runtime_error("--listen expects host:port, got '" + text + "'");
    }
    std::string host = text.substr(0, colon);
    const std::string port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
        host = "0.0.0.0";
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        throw std::runtime_error("--listen: '" + host + "' is not an IP address");
    }
    unsigned long port = 0;
    try {
        port = std::stoul(port_text);
    } catch (const std::exception&) {
        port = 65536;
    }
    if (port > 65535) {
        throw std::runtime_error("--listen: '" + port_text + "' is not a port number");
    }
    return {address, static_cast<unsigned short>(port)};
}

instance::instance(server_options options) {
    if (options.hub.max_message_size < 64) {
        throw std::runtime_error("--max-message-size must be at least 64 bytes");
    }
    parts_ = std::make_unique<parts>(std::move(options));
    parts_->http.set_readiness_check([this] { return parts_->backplane->connected(); });
    auto& p = *parts_;
    p.counters.backplane_drops = [&p] { return p.backplane->dropped_publications(); };
    p.counters.backplane_connected = [&p] { return p.backplane->connected(); };
    p.counters.backplane_published = [&p] { return p.backplane->published(); };
    p.counters.backplane_received = [&p] { return p.backplane->received(); };
    p.counters.backplane_reconnects = [&p] { return p.backplane->reconnects(); };
    if (p.presence) {
        p.counters.presence_connected = [&p] { return p.presence->connected(); };
    }
    p.counters.backplane_rejected = [&p] {
        return p.backplane->rejected_messages() + p.router.malformed_backplane_messages() +
               p.events.malformed_messages();
    };
    p.router.set_presence(p.presence.get());
    p.router.add_channel_listener(p.events.bus_prefix(), p.events);
    p.router.add_channel_listener(p.events.all_channel(), p.events);
    if (!p.events.statelesse_channel().empty()) {
        p.router.add_channel_listener(p.events.statelesse_channel(), p.events);
    }
    p.http.add_prefix_handler(
        "/events", [&p](http::request& req, std::string_view, std::shared_ptr<http::exchange> ex) {
            p.events_http.handle_subscribe(req, ex);
        });
    p.http.add_prefix_handler("/api/events", [&p](http::request& req, std::string_view,
                                                  std::shared_ptr<http::exchange> ex) {
        p.events_http.handle_api(req, ex);
    });
    if (p.rest.enabled()) {
        p.router.add_channel_listener(p.rest.bus_prefix(), p.rest);
    }
    // Everything under /api that a longer prefix (/api/events) does not take.
    p.http.add_prefix_handler(
        "/api", [&p](http::request& req, std::string_view, std::shared_ptr<http::exchange> ex) {
            p.rest.handle(req, ex);
        });
    // Prometheus scrapes it; plain text, rendered on the requesting shard from atomics.
    p.http.add_prefix_handler("/metrics", [&p](http::request& req, std::string_view subpath,
                                               std::shared_ptr<http::exchange> ex) {
        namespace bhttp = boost::beast::http;
        if (!subpath.empty() && subpath != "/") {
            return ex->respond(
                http::make_text_response(req, bhttp::status::not_found, "Not Found"));
        }
        if (req.method() != bhttp::verb::get) {
            return ex->respond(http::make_text_response(req, bhttp::status::method_not_allowed,
                                                        "Method Not Allowed"));
        }
        std::string body;
        p.counters.render(body);
        auto res = http::make_text_response(req, bhttp::status::ok, std::move(body));
        res.set(bhttp::field::content_type, prometheus_content_type);
        res.set(bhttp::field::cache_control, "no-store");
        ex->respond(std::move(res));
    });
}

instance::~instance() {
    if (parts_ && parts_->running) {
        parts_->http.stop_accepting();
        parts_->hubs.stop();
        parts_->shards.stop_and_join();
        parts_->router.stop();
        if (parts_->durable) {
            parts_->durable->stop();
        }
        if (parts_->event_history) {
            parts_->event_history->stop();
        }
        if (parts_->presence) {
            parts_->presence->stop();
        }
    }
}

routing::hub_id instance::add_hub(const std::string& path,
                                  std::shared_ptr<const hub::hub_definition> definition,
                                  transport::endpoint_options settings) {
    auto& p = *parts_;
    settings.authorize = p.authorizer(*definition, settings);
    const auto id = p.hubs.add_hub(std::move(definition));
    p.set_durable_hooks(settings, id);
    p.add_endpoint(
        path, std::move(settings),
        [&p, id](const transport::connection_ptr& connection) {
            return p.hubs.create_connection(id, connection);
        },
        true);
    return id;
}

std::shared_ptr<transport::endpoint> instance::make_hub_endpoint(
    std::shared_ptr<const hub::hub_definition> definition, transport::endpoint_options settings) {
    auto& p = *parts_;
    settings.authorize = p.authorizer(*definition, settings);
    const auto id = p.hubs.add_hub(std::move(definition));
    p.set_durable_hooks(settings, id);
    return p.make_hub_endpoint(std::move(settings), [&p, id](const transport::connection_ptr& c) {
        return p.hubs.create_connection(id, c);
    });
}

void instance::add_connection_handler(const std::string& path,
                                      transport::application_factory factory,
                                      transport::endpoint_options settings) {
    parts_->add_endpoint(path, std::move(settings), std::move(factory));
}

void instance::add_route(const std::string& prefix, http::prefix_handler handler) {
    parts_->http.add_prefix_handler(prefix, std::move(handler));
}

const server_options& instance::options() const {
    return parts_->options;
}
presence::store* instance::presence() const {
    return parts_->presence.get();
}
routing::router& instance::router() {
    return parts_->router;
}
hub::hub_server& instance::hubs() {
    return parts_->hubs;
}
events::registry& instance::events() {
    return parts_->events;
}

asio::ip::tcp::endpoint instance::start() {
    auto& p = *parts_;
    const auto endpoint = p.http.listen(parse_listen_address(p.options.listen));
    if (p.made_bus.log != nullptr) {
        std::vector<routing::scaleout::channels> hubs;
        for (routing::hub_id hub = 0; hub < p.router.hub_count(); ++hub) {
            hubs.push_back(p.router.hub_channels(hub));
        }
        routing::durable::sessions_options settings;
        settings.server_name = p.router_options.server_name;
        settings.channel_prefix = p.router_options.channel_prefix;
        settings.refresh_interval = std::max<std::chrono::milliseconds>(
            p.options.durable_window / 4, settings.checkpoint_interval);
        p.durable = std::make_unique<routing::durable::sessions>(
            p.shards, *p.backplane, *p.made_bus.log, std::move(hubs), std::move(settings));
        p.router.set_durable(p.durable.get());
    }
    asio::post(p.shards.context(routing::router::control_shard), [&p] {
        if (p.durable) {
            p.durable->start();  // observes the log from its first entry
        }
        p.events.start();  // subscribes before the bus starts, as the router does
        p.rest.start();
        p.router.start();
        if (p.event_history) {
            p.event_history->start();
        }
        if (p.presence) {
            p.presence->start([&p](const presence::user_change& change) {
                (change.online ? p.counters.presence_online : p.counters.presence_offline).add();
                p.hubs.on_presence_change(change);
            });
        }
    });
    p.hubs.start();
    p.shards.start();
    p.running = true;
    return endpoint;
}

void instance::drain_and_stop() {
    auto& p = *parts_;
    p.http.set_draining();
    p.http.stop_accepting();
    p.hubs.close_all();
    // Event streams end at once: their EventSources reconnect (through the load balancer, to
    // another instance) and resume from their last id.
    auto streams_closed = std::make_shared<std::promise<void>>();
    p.events.close_all([streams_closed] { streams_closed->set_value(); });
    // Posted to running shards, which each close their streams in one go; the bound only
    // guards a bug.
    streams_closed->get_future().wait_for(std::chrono::seconds(1));
    const auto deadline = std::chrono::steady_clock::now() + p.options.drain_timeout;
    // Clients answer our Close by closing their sockets; each ending connection leaves the
    // count, so polling it is the whole wait.
    while (p.hubs.connection_count() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (p.hubs.connection_count() > 0) {
        spdlog::warn("drain timeout: dropping {} connection(s) still open",
                     p.hubs.connection_count());
        p.hubs.terminate_all();
        // Dropped sockets end their connections at once; this bound only guards a bug.
        const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (p.hubs.connection_count() > 0 && std::chrono::steady_clock::now() < hard_deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    p.hubs.stop();
    p.shards.stop_and_join();
    // With no shard thread left, the router and the backplane are stopped single-threaded.
    p.router.stop();
    if (p.durable) {
        p.durable->stop();
    }
    if (p.event_history) {
        p.event_history->stop();
    }
    if (p.presence) {
        p.presence->stop();
    }
    p.running = false;
}

void instance::run_until_signal(
    const std::function<void(const std::string& base_url)>& on_listening) {
    asio::io_context main_context;
    asio::signal_set signals(main_context, SIGINT, SIGTERM);
    const auto endpoint = start();
    const auto host = endpoint.address().is_unspecified() ? std::string("localhost")
                                                          : endpoint.address().to_string();
    const auto url = std::string(parts_->tls ? "https://" : "http://") + host + ":" +
                     std::to_string(endpoint.port());
    std::printf("switchboard listening on %s\n", url.c_str());
    std::fflush(stdout);
    if (on_listening) {
        on_listening(url);
    }
    asio::steady_timer sweep_timer(main_context);
    std::function<void()> schedule_sweep = [&] {
        sweep_timer.expires_after(std::chrono::seconds(1));
        sweep_timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) {
                sweep();
                schedule_sweep();
            }
        });
    };
    schedule_sweep();
    signals.async_wait([&](boost::system::error_code, int signal) {
        spdlog::info("received signal {}: draining {} connection(s)", signal, connection_count());
        sweep_timer.cancel();
    });
    main_context.run();
    drain_and_stop();
    spdlog::info("stopped");
}

void instance::sweep() {
    const auto now = std::chrono::steady_clock::now();
    parts_->connections.sweep(now);
    parts_->admission.sweep(now);
    parts_->events.sweep();
    parts_->rest.sweep();
    // The bus's buffer is its shard's to read.
    asio::post(parts_->shards.context(routing::router::control_shard), [&p = *parts_] {
        p.counters.backplane_buffered_bytes.set(
            static_cast<std::int64_t>(p.backplane->buffered_bytes()));
    });
}

std::size_t instance::connection_count() const {
    return parts_->hubs.connection_count();
}

const switchboard::metrics& instance::metrics() const {
    return parts_->counters;
}

}  // namespace switchboard
