// The switchboard binary: subcommands over the library; parses flags, builds config, runs.
#include "apps/config_command.hpp"
#include "apps/doctor.hpp"
#include "apps/publish.hpp"
#include "apps/publish_event.hpp"
#include "auth/jwt.hpp"
#include "auth/policy.hpp"
#include "chat/chat_client.hpp"
#include "core/duration.hpp"
#include "events/snapshot.hpp"
#include "hub/calls_hub.hpp"
#include "hub/chat_hub.hpp"
#include "hub/relay_hub.hpp"
#include "loadgen/backplane_publish.hpp"
#include "loadgen/bench.hpp"
#include "server/backends.hpp"
#include "server/instance.hpp"
#include "server/log_format.hpp"

#ifdef SWITCHBOARD_BACKPLANE_REDIS
#include "loadgen/redis_publish.hpp"
#endif

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <boost/json/array.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string_view>
#include <thread>

namespace {

using namespace switchboard;

// "15s" when whole seconds, else "250ms": as a duration flag takes it back.
std::string format_duration(std::chrono::milliseconds value) {
    return value.count() % 1000 == 0 ? std::to_string(value.count() / 1000) + "s"
                                     : std::to_string(value.count()) + "ms";
}

// Adds a duration flag ("15s", "250ms") bound to `target`, with an environment variable.
void add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                  const std::string& env, const std::string& help) {
    app.add_option_function<std::string>(
           name,
           [&target, name](const std::string& text) {
               const auto parsed = parse_duration(text);
               if (!parsed) {
                   throw CLI::ValidationError(name, "expects a duration such as 15s or 250ms");
               }
               target = *parsed;
           },
           help)
        ->envname(env)
        ->type_name("DURATION")
        ->default_str(format_duration(target));
}

// `switchboard token`: a signed HS256 development token, printed on stdout.
struct token_request {
    std::string secret;
    std::string user;
    std::vector<std::string> roles;
    // An hour: long enough for a development session, short enough that a token pasted into
    // a chat or a log stops working the same day.
    std::chrono::milliseconds expires{3'600'000};
    std::string issuer;
    std::string audience;
    std::vector<std::string> claims;  // "type=value", for claim policies
};

int run_token(const token_request& request) {
    if (request.secret.empty()) {
        throw std::runtime_error("token: --jwt-secret (or SWITCHBOARD_JWT_SECRET) is required");
    }
    // The same check the server makes, so a token printed here is one it can accept.
    if (auto key = auth::load_hmac_secret(request.secret); !key) {
        throw std::runtime_error("token: --jwt-secret: " + key.error_message());
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    boost::json::object claims;
    claims["sub"] = request.user;
    if (!request.roles.empty()) {
        boost::json::array roles;
        for (const auto& role : request.roles) {
            roles.emplace_back(role);
        }
        claims["role"] = std::move(roles);
    }
    claims["iat"] = now;
    claims["exp"] = now + std::chrono::duration_cast<std::chrono::seconds>(request.expires).count();
    if (!request.issuer.empty()) {
        claims["iss"] = request.issuer;
    }
    if (!request.audience.empty()) {
        claims["aud"] = request.audience;
    }
    for (const auto& claim : request.claims) {
        const auto equals = claim.find('=');
        if (equals == std::string::npos || equals == 0) {
            throw std::runtime_error("token: --claim expects type=value, got '" + claim + "'");
        }
        claims[claim.substr(0, equals)] = claim.substr(equals + 1);
    }
    std::printf("%s\n", auth::issue_hs256(claims, request.secret).c_str());
    return 0;
}

// The `--authorize` rules, each applied to the hub it names; throws naming the rule that is
// malformed or names no hub of this server or an unknown method.
void apply_policy_rules(const std::vector<hub::hub_definition*>& hubs,
                        const std::vector<std::string>& rules) {
    for (const auto& text : rules) {
        auto rule = auth::parse_policy_rule(text);
        if (!rule) {
            throw std::runtime_error("--authorize: " + rule.error_message());
        }
        hub::hub_definition* target = nullptr;
        std::string names;
        for (auto* hub : hubs) {
            names += (names.empty() ? "" : ", ") + hub->name();
            if (hub->name() == rule->hub) {
                target = hub;
            }
        }
        if (target == nullptr) {
            throw std::runtime_error("--authorize '" + text + "': no hub named '" + rule->hub +
                                     "' (this server has: " + names + ")");
        }
        try {
            if (rule->method.empty()) {
                target->authorize(std::move(rule->requirements));
            } else {
                target->authorize(rule->method, std::move(rule->requirements));
            }
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error("--authorize '" + text + "': " + e.what());
        }
    }
}

// The relay hubs' flags (`--hub`, `--hub-groups`), as given.
struct relay_settings {
    // PATH or PATH=BACKPLANE_NAME, one per hub.
    std::vector<std::string> hubs;
    // JoinGroup/LeaveGroup on relay hubs: "off" (no methods: only publishers decide who is in
    // a group), or a group policy as --chat-group-policy: open, patterns, roles.
    std::string groups = "off";
    std::vector<std::string> group_patterns;
};

// The chat hub's flags, as given: turned into chat_hub_options once the policy parses.
struct chat_settings {
    // The chat hub's name on the backplane: the .NET hub's full type name when sharing Redis
    // with ASP.NET Core servers; empty: "chat".
    std::string backplane_name;
    // Longer chat messages are refused with an error (the protocol limit still applies).
    std::size_t max_message_length = hub::chat_hub_options{}.max_message_length;
    // Chat presence events (chat_hub_options::presence_events): on for the demo page.
    bool presence_events = hub::chat_hub_options{}.presence_events;
    // Groups a client may join and send to: "open" (any: development and trusted clients),
    // "patterns" (names matching group_patterns), "roles" (a role "group:PATTERN" matching).
    std::string group_policy = "open";
    // Shell-style patterns; "{user}" stands for the caller's user id ("dm-{user}-*").
    std::vector<std::string> group_patterns;
};

// The relay hubs of the flags; throws naming the flag that is wrong.
std::vector<std::pair<std::string, std::shared_ptr<hub::hub_definition>>> make_relay_hubs(
    const relay_settings& flags, const std::string& chat_backplane_name) {
    hub::relay_hub_options relay;
    if (flags.groups != "off") {
        auto policy = hub::make_chat_group_policy(flags.groups, flags.group_patterns);
        if (!policy) {
            throw std::runtime_error("--hub-groups: " + policy.error_message() + " (or off)");
        }
        relay.self_service_groups = true;
        relay.groups = std::move(*policy);
    } else if (!flags.group_patterns.empty()) {
        throw std::runtime_error("--hub-group-pattern needs --hub-groups patterns");
    }
    std::vector<std::pair<std::string, std::shared_ptr<hub::hub_definition>>> out;
    for (const auto& text : flags.hubs) {
        auto spec = hub::parse_relay_hub_spec(text);
        if (!spec) {
            throw std::runtime_error("--hub " + spec.error_message());
        }
        if (spec->path == "/hubs/chat" || spec->name == "chat" || spec->path == "/hubs/calls" ||
            spec->name == "calls") {
            throw std::runtime_error("--hub '" + text +
                                     "': /hubs/chat and /hubs/calls (chat, calls) are built in");
        }
        // Two hubs on one backplane name would each deliver what is published to it.
        if (spec->backplane_name == chat_backplane_name) {
            throw std::runtime_error("--hub '" + text + "': the chat hub's backplane name is " +
                                     chat_backplane_name);
        }
        for (const auto& [path, other] : out) {
            if (path == spec->path || other->name() == spec->name ||
                other->backplane_name() == spec->backplane_name) {
                throw std::runtime_error("--hub '" + text + "': a second hub at " + spec->path +
                                         ", named " + spec->name + " or on the backplane as " +
                                         spec->backplane_name);
            }
        }
        out.emplace_back(spec->path, hub::make_relay_hub(*spec, relay));
    }
    return out;
}

int run_serve(server_options options, chat_settings chat_flags, const relay_settings& relay,
              hub::calls_hub_options calls) {
    const bool authenticated = options.auth.enabled();
    const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
    spdlog::info("switchboard {} starting: backplane={}, threads={}, tls={}", SWITCHBOARD_VERSION,
                 backplanes().redact(options.backplane),
                 options.threads == 0 ? std::thread::hardware_concurrency() : options.threads,
                 tls ? "on" : "off");
    auto groups = hub::make_chat_group_policy(chat_flags.group_policy, chat_flags.group_patterns);
    if (!groups) {
        throw std::runtime_error("--chat-group-policy: " + groups.error_message());
    }
    // Requirements only a verified identity can meet would lock every client out.
    const bool needs_identity = !options.auth.policies.empty() ||
                                groups->kind == hub::chat_group_policy::mode::roles ||
                                relay.groups == "roles";
    if (needs_identity && !authenticated) {
        throw std::runtime_error(
            "--authorize and the roles group policies need JWT authentication (--jwt-secret, "
            "--jwt-public-key or --jwks-file)");
    }
    auto chat = hub::make_chat_hub(hub::chat_hub_options{
        chat_flags.max_message_length, std::move(*groups), chat_flags.presence_events});
    chat->set_backplane_name(chat_flags.backplane_name);
    auto relays = make_relay_hubs(relay, chat->backplane_name());
    auto calls_hub = hub::make_calls_hub(calls);
    std::vector<hub::hub_definition*> all_hubs{chat.get(), calls_hub.get()};
    for (auto& [path, definition] : relays) {
        all_hubs.push_back(definition.get());
    }
    apply_policy_rules(all_hubs, options.auth.policies);
    instance server(std::move(options));
    server.add_hub("/hubs/chat", std::move(chat));
    std::vector<std::string> relay_paths;
    for (auto& [path, definition] : relays) {
        relay_paths.push_back(path);
        server.add_hub(path, std::move(definition));
    }
    server.add_hub("/hubs/calls", std::move(calls_hub));
    server.run_until_signal([authenticated, tls, relay_paths](const std::string& url) {
        std::printf("  chat hub:  %s/hubs/chat\n  calls hub: %s/hubs/calls\n  demo page: %s/\n",
                    url.c_str(), url.c_str(), url.c_str());
        for (const auto& path : relay_paths) {
            std::printf("  relay hub: %s%s\n", url.c_str(), path.c_str());
        }
        std::fflush(stdout);
        if (tls) {
            spdlog::info("TLS on: serving https and wss at {}", url);
        }
        if (authenticated) {
            spdlog::info("authentication: JWT bearer tokens required on every hub");
        } else {
            spdlog::warn(
                "development mode: user ids come from the 'user' query parameter; "
                "do not expose this server to untrusted clients (configure --jwt-secret, "
                "--jwt-public-key or --jwks-file)");
        }
    });
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    spdlog::flush_on(spdlog::level::info);

    CLI::App app{
        "Switchboard: a real-time messaging server that speaks the ASP.NET Core SignalR "
        "protocol"};
    app.require_subcommand(1);
    app.set_version_flag("--version", SWITCHBOARD_VERSION);

    server_options options;
    chat_settings chat;
    relay_settings relay;
    hub::calls_hub_options calls;
    std::string log_level = "info";
    // Text for a terminal; json is opt-in, for collectors (Loki, Elasticsearch, CloudWatch).
    std::string log_format = "text";
    std::string config_file;
    auto* serve = app.add_subcommand("serve", "Run the server");
    serve->footer(
        "Each setting is taken from, in order: its flag, its SWITCHBOARD_* variable, the ASP.NET "
        "variables (Redis__ConnectionString, ConnectionStrings__RedisConnection, "
        "SignalR__MaximumMessageSize, ...), the --config file, the default.");
    serve
        ->add_option(
            "--config", config_file,
            "JSON file of settings: keys are these flags without --; an appsettings.json's "
            "ConnectionStrings, Redis, SignalR and Logging sections are read too")
        ->envname("SWITCHBOARD_CONFIG")
        ->type_name("FILE");
    serve->add_option("--listen", options.listen, "Address and port to listen on (port 0: any)")
        ->envname("SWITCHBOARD_LISTEN")
        ->capture_default_str();
    serve->add_option("--threads", options.threads, "Shards (threads); 0 = one per core")
        ->envname("SWITCHBOARD_THREADS")
        ->capture_default_str();
    serve
        ->add_option("--backplane", options.backplane,
                     "Scale-out bus, one of: " + backplanes().describe())
        ->envname("SWITCHBOARD_BACKPLANE")
        ->capture_default_str();
    serve
        ->add_option(
            "--server-name", options.server_name,
            "This instance's name on the backplane and in negotiate's X-Switchboard-Instance "
            "header (default: hostname_random, not sent)")
        ->envname("SWITCHBOARD_SERVER_NAME");
    serve
        ->add_option("--backplane-buffer-size", options.backplane_buffer_size,
                     "Bytes of publications kept while the backplane is unreachable")
        ->envname("SWITCHBOARD_BACKPLANE_BUFFER_SIZE")
        ->capture_default_str();
    add_duration(*serve, "--durable-window", options.durable_window, "SWITCHBOARD_DURABLE_WINDOW",
                 "Durable mode: keep every publication this long in one log on the backplane "
                 "(a Redis stream, a NATS JetStream stream), so "
                 "stateful reconnects resume on any instance (0: off)");
    serve
        ->add_option("--durable-max-entries", options.durable_max_entries,
                     "Durable mode: entries the log keeps at most, whatever their age")
        ->envname("SWITCHBOARD_DURABLE_MAX_ENTRIES")
        ->capture_default_str();
    serve
        ->add_option("--durable-max-bytes", options.durable_max_bytes,
                     "Durable mode: bytes of publications the log keeps at most, whatever their "
                     "age (0: no bound)")
        ->envname("SWITCHBOARD_DURABLE_MAX_BYTES")
        ->capture_default_str();
    serve
        ->add_option("--postgres-schema", options.postgres_schema,
                     "Schema of the PostgreSQL backplane's tables (created on first use)")
        ->envname("SWITCHBOARD_POSTGRES_SCHEMA")
        ->capture_default_str();
    add_duration(*serve, "--group-ack-timeout", options.group_ack_timeout,
                 "SWITCHBOARD_GROUP_ACK_TIMEOUT",
                 "Wait for another instance to acknowledge a group change");
    serve
        ->add_option("--chat-hub-name", chat.backplane_name,
                     "Chat hub's name on the backplane (a .NET hub's full type name to share "
                     "Redis with ASP.NET Core; default: chat)")
        ->envname("SWITCHBOARD_CHAT_HUB_NAME");
    serve
        ->add_option("--hub", relay.hubs,
                     "A relay hub: PATH[=BACKPLANE_NAME], clients receive what is published to "
                     "it (switchboard publish, a .NET IHubContext); repeat for several")
        ->envname("SWITCHBOARD_HUBS")
        ->delimiter(',')
        ->type_name("PATH[=NAME]");
    serve
        ->add_option("--hub-groups", relay.groups,
                     "JoinGroup/LeaveGroup on relay hubs: off, open, patterns or roles")
        ->envname("SWITCHBOARD_HUB_GROUPS")
        ->capture_default_str();
    serve
        ->add_option("--hub-group-pattern", relay.group_patterns,
                     "Group name pattern for --hub-groups patterns (* ?, {user}); repeat")
        ->envname("SWITCHBOARD_HUB_GROUP_PATTERNS")
        ->delimiter(',');
    serve
        ->add_option_function<std::string>(
            "--channel-prefix",
            [&options](const std::string& prefix) { options.channel_prefix = prefix; },
            "Bytes before every backplane channel name (ASP.NET ChannelPrefix, e.g. "
            "Diquis); overrides the backplane spec's channelPrefix=")
        ->envname("SWITCHBOARD_CHANNEL_PREFIX");
    serve->add_option("--static-dir", options.static_dir, "Folder served at / (empty: none)")
        ->envname("SWITCHBOARD_STATIC_DIR")
        ->capture_default_str();
    serve
        ->add_option("--tls-cert", options.tls_cert_file,
                     "PEM certificate chain; turns TLS on (https, wss)")
        ->envname("SWITCHBOARD_TLS_CERT")
        ->type_name("FILE");
    serve
        ->add_option("--tls-key", options.tls_key_file,
                     "PEM private key of --tls-cert (default: read from the --tls-cert file)")
        ->envname("SWITCHBOARD_TLS_KEY")
        ->type_name("FILE");
    serve
        ->add_option("--cors-origin", options.cors_origins,
                     "Origin allowed for cross-origin requests with credentials; repeat for "
                     "several, '*' for any")
        ->envname("SWITCHBOARD_CORS_ORIGINS")
        ->delimiter(',');
    add_duration(*serve, "--keep-alive-interval", options.hub.keep_alive_interval,
                 "SWITCHBOARD_KEEP_ALIVE_INTERVAL", "Interval of server pings");
    add_duration(*serve, "--client-timeout", options.hub.client_timeout,
                 "SWITCHBOARD_CLIENT_TIMEOUT", "Close clients silent for this long");
    add_duration(*serve, "--handshake-timeout", options.hub.handshake_timeout,
                 "SWITCHBOARD_HANDSHAKE_TIMEOUT", "Time allowed for the handshake");
    add_duration(*serve, "--disconnect-timeout", options.hub.disconnect_timeout,
                 "SWITCHBOARD_DISCONNECT_TIMEOUT",
                 "Forget unused tokens, silent long polls and dropped stateful connections after");
    add_duration(*serve, "--drain-timeout", options.drain_timeout, "SWITCHBOARD_DRAIN_TIMEOUT",
                 "Longest graceful shutdown");
    serve
        ->add_option("--max-message-size", options.hub.max_message_size,
                     "Largest hub message a client may send, bytes")
        ->envname("SWITCHBOARD_MAX_MESSAGE_SIZE")
        ->capture_default_str();
    serve
        ->add_option("--send-queue-limit", options.hub.send_queue_limit,
                     "Bytes queued for a client before it is dropped as a slow consumer")
        ->envname("SWITCHBOARD_SEND_QUEUE_LIMIT")
        ->capture_default_str();
    serve
        ->add_option("--stateful-reconnect-buffer-size", options.hub.stateful_reconnect_buffer_size,
                     "Unacknowledged bytes kept per connection for stateful reconnect")
        ->envname("SWITCHBOARD_STATEFUL_RECONNECT_BUFFER_SIZE")
        ->capture_default_str();
    serve->add_option("--max-header-size", options.max_header_size, "Largest HTTP header, bytes")
        ->envname("SWITCHBOARD_MAX_HEADER_SIZE")
        ->capture_default_str();
    serve->add_option("--max-body-size", options.max_body_size, "Largest HTTP body, bytes")
        ->envname("SWITCHBOARD_MAX_BODY_SIZE")
        ->capture_default_str();
    serve
        ->add_option("--chat-presence-events", chat.presence_events,
                     "Announce arrivals, departures and group joins (true/false); each arrival "
                     "is a message to every connection")
        ->envname("SWITCHBOARD_CHAT_PRESENCE_EVENTS")
        ->capture_default_str();
    serve
        ->add_option("--chat-max-message-length", chat.max_message_length,
                     "Longest chat message, bytes")
        ->envname("SWITCHBOARD_CHAT_MAX_MESSAGE_LENGTH")
        ->capture_default_str();
    serve
        ->add_option("--max-connections", options.max_connections,
                     "Connections on this instance, negotiated ones included; 0 = unlimited")
        ->envname("SWITCHBOARD_MAX_CONNECTIONS")
        ->capture_default_str();
    serve
        ->add_option("--max-connections-per-ip", options.max_connections_per_ip,
                     "Connections from one client IP address; 0 = unlimited")
        ->envname("SWITCHBOARD_MAX_CONNECTIONS_PER_IP")
        ->capture_default_str();
    serve
        ->add_option("--max-connections-per-user", options.max_connections_per_user,
                     "Connections of one user id; 0 = unlimited")
        ->envname("SWITCHBOARD_MAX_CONNECTIONS_PER_USER")
        ->capture_default_str();
    serve
        ->add_option("--negotiate-rate-per-ip", options.negotiate_rate_per_ip,
                     "Negotiate requests per second from one client IP address; 0 = unlimited")
        ->envname("SWITCHBOARD_NEGOTIATE_RATE_PER_IP")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--negotiate-burst-per-ip", options.negotiate_burst_per_ip,
                     "Negotiate requests one client IP address may make at once")
        ->envname("SWITCHBOARD_NEGOTIATE_BURST_PER_IP")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--max-messages-per-second", options.hub.max_messages_per_second,
                     "Hub messages per second from one connection before it is closed; "
                     "0 = unlimited")
        ->envname("SWITCHBOARD_MAX_MESSAGES_PER_SECOND")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--message-burst", options.hub.message_burst,
                     "Hub messages one connection may send at once above that rate")
        ->envname("SWITCHBOARD_MESSAGE_BURST")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    serve
        ->add_option("--max-groups-per-connection", options.max_groups_per_connection,
                     "Groups one connection may be in; 0 = unlimited")
        ->envname("SWITCHBOARD_MAX_GROUPS_PER_CONNECTION")
        ->capture_default_str();
    serve
        ->add_flag("--detailed-errors", options.hub.detailed_errors,
                   "Send exception details to clients (development only)")
        ->envname("SWITCHBOARD_DETAILED_ERRORS");
    serve->add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->envname("SWITCHBOARD_LOG_LEVEL")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
        ->capture_default_str();
    serve
        ->add_option("--log-format", log_format,
                     "text, or json: one object per line (time, level, msg) for log collectors")
        ->envname("SWITCHBOARD_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    serve
        ->add_option("--access-log", options.access_log,
                     "Log every HTTP request (method, path, status, duration; true/false)")
        ->envname("SWITCHBOARD_ACCESS_LOG")
        ->capture_default_str();
    serve
        ->add_option("--jwt-secret", options.auth.jwt_secret,
                     "HS256 secret (32+ bytes); turns JWT authentication on")
        ->envname("SWITCHBOARD_JWT_SECRET");
    serve
        ->add_option("--jwt-public-key", options.auth.jwt_public_key_file,
                     "PEM public key or certificate (RS256/ES256); turns JWT authentication on")
        ->envname("SWITCHBOARD_JWT_PUBLIC_KEY")
        ->type_name("FILE");
    serve
        ->add_option("--jwks-file", options.auth.jwks_file,
                     "JWK set of signing keys; turns JWT authentication on")
        ->envname("SWITCHBOARD_JWKS_FILE")
        ->type_name("FILE");
    serve->add_option("--jwt-issuer", options.auth.issuer, "Required iss of tokens (default: any)")
        ->envname("SWITCHBOARD_JWT_ISSUER");
    serve
        ->add_option("--jwt-audience", options.auth.audience,
                     "Required aud of tokens (default: any)")
        ->envname("SWITCHBOARD_JWT_AUDIENCE");
    options.auth.clock_skew = auth::jwt_options{}.clock_skew;
    add_duration(*serve, "--jwt-clock-skew", options.auth.clock_skew, "SWITCHBOARD_JWT_CLOCK_SKEW",
                 "Tolerance on token exp and nbf");
    serve
        ->add_option("--jwt-user-claim", options.auth.user_claims,
                     "Claim holding the user id; repeat for fallbacks (default: sub, nameid, ...)")
        ->envname("SWITCHBOARD_JWT_USER_CLAIMS")
        ->delimiter(',');
    serve
        ->add_option("--authorize", options.auth.policies,
                     "HUB=REQS or HUB.METHOD=REQS, REQS a comma list of authenticated, "
                     "role:NAME, claim:TYPE[=VALUE]; repeat for several")
        ->envname("SWITCHBOARD_AUTHORIZE")
        ->delimiter(';');
    serve
        ->add_flag("--close-on-token-expiry", options.hub.close_on_token_expiry,
                   "Close connections when their token expires (clients reconnect with a new one)")
        ->envname("SWITCHBOARD_CLOSE_ON_TOKEN_EXPIRY");
    serve
        ->add_option("--chat-group-policy", chat.group_policy,
                     "Chat groups clients may join: open, patterns or roles (role group:PATTERN)")
        ->envname("SWITCHBOARD_CHAT_GROUP_POLICY")
        ->capture_default_str();
    serve
        ->add_option("--chat-group-pattern", chat.group_patterns,
                     "Group name pattern for --chat-group-policy patterns (* ?, {user}); repeat")
        ->envname("SWITCHBOARD_CHAT_GROUP_PATTERNS")
        ->delimiter(',');
    serve
        ->add_option("--jwt-role-claim", options.auth.role_claims,
                     "Claim holding roles; repeat for several (default: role, roles, ...)")
        ->envname("SWITCHBOARD_JWT_ROLE_CLAIMS")
        ->delimiter(',');

    add_duration(*serve, "--calls-session-ttl", calls.session_ttl, "SWITCHBOARD_CALLS_SESSION_TTL",
                 "Longest life of a call session (/hubs/calls)");
    add_duration(*serve, "--calls-grace", calls.grace, "SWITCHBOARD_CALLS_GRACE",
                 "A call party offline everywhere this long ends its calls");
    serve
        ->add_option("--presence", options.presence,
                     "Cluster-wide presence: who is online, group members (true/false; in Redis "
                     "beside a Redis backplane, else per instance)")
        ->envname("SWITCHBOARD_PRESENCE")
        ->capture_default_str();
    add_duration(*serve, "--presence-expiry", options.presence_expiry,
                 "SWITCHBOARD_PRESENCE_EXPIRY",
                 "An instance silent this long leaves presence (its users go offline)");
    serve
        ->add_option("--events-history", options.events.history,
                     "Events kept per channel for Last-Event-ID resume")
        ->envname("SWITCHBOARD_EVENTS_HISTORY")
        ->capture_default_str();
    add_duration(*serve, "--events-history-age", options.events.history_age,
                 "SWITCHBOARD_EVENTS_HISTORY_AGE", "Longest an event stays in channel history");
    serve
        ->add_option("--events-shared-history", options.events.shared_history,
                     "Keep channel history in Redis Streams too, so a client resumes exactly on "
                     "any instance (true/false; Redis backplane only)")
        ->envname("SWITCHBOARD_EVENTS_SHARED_HISTORY")
        ->capture_default_str();
    serve
        ->add_option("--events-retain", options.events.retain,
                     "Channels (* ?) whose last event new subscribers start with; repeat")
        ->envname("SWITCHBOARD_EVENTS_RETAIN")
        ->delimiter(',');
    serve
        ->add_option("--events-max-idle-channels", options.events.max_idle_channels,
                     "Channels kept without a local subscriber (history, retained event); "
                     "beyond, publications to new ones only go to the bus")
        ->envname("SWITCHBOARD_EVENTS_MAX_IDLE_CHANNELS")
        ->capture_default_str();
    serve
        ->add_option("--events-snapshot", options.events.snapshots,
                     "PATTERN=URL: new subscriptions to matching channels start with GET URL "
                     "({channel}, {user} filled in; http://); repeat for several")
        ->envname("SWITCHBOARD_EVENTS_SNAPSHOT")
        ->check([](const std::string& text) {
            auto source = events::parse_snapshot_source(text);
            return source ? std::string() : source.error_message();
        });
    serve
        ->add_option("--events-snapshot-event", options.events.snapshot_event,
                     "The SSE event name of a snapshot")
        ->envname("SWITCHBOARD_EVENTS_SNAPSHOT_EVENT")
        ->capture_default_str();
    add_duration(*serve, "--events-snapshot-timeout", options.events.snapshot_timeout,
                 "SWITCHBOARD_EVENTS_SNAPSHOT_TIMEOUT",
                 "How long a snapshot may take before the subscription goes on without it");
    add_duration(*serve, "--events-linger", options.events.linger, "SWITCHBOARD_EVENTS_LINGER",
                 "How long an instance keeps listening to a channel on the bus after its last "
                 "subscriber left, so a reconnect here resumes");
    add_duration(*serve, "--events-keep-alive", options.events.keep_alive,
                 "SWITCHBOARD_EVENTS_KEEP_ALIVE",
                 "Silence before an event stream keep-alive comment");

    serve
        ->add_option("--access-key", options.rest.access_keys,
                     "Access key (32+ bytes) signing REST API tokens, as Azure SignalR's; repeat "
                     "for a secondary key. No key: the REST API is off")
        ->envname("SWITCHBOARD_ACCESS_KEY")
        ->delimiter(',');
    serve
        ->add_option("--connection-string", options.rest.connection_string,
                     "Azure-style 'Endpoint=https://host;AccessKey=KEY;Version=1.0;': enables the "
                     "REST API; token audiences must name Endpoint's host")
        ->envname("SWITCHBOARD_CONNECTION_STRING");
    add_duration(*serve, "--rest-query-timeout", options.rest.query_timeout,
                 "SWITCHBOARD_REST_QUERY_TIMEOUT",
                 "How long a REST existence check waits for other instances before 404");
    serve
        ->add_option("--rest-max-body-size", options.rest.max_body_size,
                     "Largest REST API request body, bytes")
        ->envname("SWITCHBOARD_REST_MAX_BODY_SIZE")
        ->capture_default_str();
    serve
        ->add_option("--events-channel", options.events.channels,
                     "Channels (* ?, {user}) that may be subscribed; repeat (default: any)")
        ->envname("SWITCHBOARD_EVENTS_CHANNELS")
        ->delimiter(',');
    serve
        ->add_option("--events-publish-key", options.events.publish_key,
                     "Shared secret publishers send as Authorization: Bearer <key>")
        ->envname("SWITCHBOARD_EVENTS_PUBLISH_KEY");
    serve
        ->add_flag("--events-open", options.events.open,
                   "Anyone may publish events, no credentials needed (development only)")
        ->envname("SWITCHBOARD_EVENTS_OPEN");
    serve
        ->add_option("--events-statelesse-prefix", options.events.statelesse_prefix,
                     "StateleSSE.Backplane.Redis compatibility: its ChannelPrefix (StateleSSE's "
                     "default is backplane); events also travel on PREFIX:events. Empty: off")
        ->envname("SWITCHBOARD_EVENTS_STATELESSE_PREFIX");
    serve
        ->add_option("--events-statelesse-type", options.events.statelesse_type,
                     "SSE event name of StateleSSE events: last-segment (of the GroupId, when it "
                     "looks like a type name, else message; the default) or message")
        ->envname("SWITCHBOARD_EVENTS_STATELESSE_TYPE")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, events::statelesse_type_rule>{
                {"last-segment", events::statelesse_type_rule::last_segment},
                {"message", events::statelesse_type_rule::message}},
            CLI::ignore_case))
        ->option_text("last-segment|message");

    token_request token;
    auto* token_command =
        app.add_subcommand("token", "Print a signed HS256 development token for --jwt-secret");
    token_command->add_option("--user", token.user, "The token's subject (sub)")->required();
    token_command->add_option("--role", token.roles, "A role; repeat for several");
    add_duration(*token_command, "--expires", token.expires, "SWITCHBOARD_TOKEN_EXPIRES",
                 "Lifetime of the token");
    token_command->add_option("--issuer", token.issuer, "iss claim (match --jwt-issuer)");
    token_command->add_option("--audience", token.audience, "aud claim (match --jwt-audience)");
    token_command->add_option("--claim", token.claims, "Another claim, type=value; repeat");
    token_command->add_option("--jwt-secret", token.secret, "HS256 secret the server uses")
        ->envname("SWITCHBOARD_JWT_SECRET");

    loadgen::bench_options bench;
    std::string bench_scenario = "broadcast";
    std::string bench_protocol = "json";
    std::size_t bench_worker = 0;
    auto* bench_command = app.add_subcommand(
        "bench", "Load generator: run a scenario against a loopback server (bench/README.md)");
    bench_command
        ->add_option("scenario", bench_scenario,
                     "echo, broadcast, group, big-group, connection, idle, sse or sse-idle")
        ->capture_default_str();
    std::string bench_target = "switchboard";
    bench_command
        ->add_option("--url", bench.urls,
                     "Server URL (loopback only); repeat to spread connections round-robin over "
                     "several instances")
        ->capture_default_str();
    bench_command
        ->add_option("--target", bench_target,
                     "System under load: switchboard, socketio or nchan (bench/peers)")
        ->check(CLI::IsMember({"switchboard", "socketio", "nchan"}))
        ->capture_default_str();
    bench_command->add_option("--connections", bench.connections, "Connections")
        ->capture_default_str();
    bench_command
        ->add_option("--senders", bench.senders,
                     "Connections that send; 0 = 1 for broadcast and big-group, all otherwise")
        ->capture_default_str();
    bench_command->add_option("--rate", bench.rate, "Messages per second per sender")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench_command
        ->add_option("--message-size", bench.message_size,
                     "Bytes of each message's text (at least the 20-digit timestamp)")
        ->capture_default_str();
    bench_command
        ->add_option("--channels", bench.channels,
                     "sse: event channels; subscriber i reads channel i mod N, one publisher each")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench_command
        ->add_option("--publish-key", bench.publish_key,
                     "sse: the server's --events-publish-key (none: it runs with --events-open)")
        ->envname("SWITCHBOARD_EVENTS_PUBLISH_KEY");
    add_duration(*bench_command, "--duration", bench.duration, "SWITCHBOARD_BENCH_DURATION",
                 "Length of the send window");
    add_duration(*bench_command, "--deadline", bench.deadline, "SWITCHBOARD_BENCH_DEADLINE",
                 "Deliveries later than this count as delivered but not on time");
    bench_command->add_option("--protocol", bench_protocol, "json or messagepack")
        ->check(CLI::IsMember({"json", "messagepack"}))
        ->capture_default_str();
    bench_command->add_flag("--stateful", bench.stateful,
                            "Connections negotiate stateful reconnect (version 2 handshake) and "
                            "ack what they receive every second");
    bench_command->add_option(
        "--source-addresses", bench.source_addresses,
        "Local addresses to spread connections over, e.g. 127.0.0.1-127.0.0.20");
    bench_command->add_option("--threads", bench.threads, "Threads per generator process")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench_command
        ->add_option("--processes", bench.processes,
                     "Generator processes sharing the connections (past the "
                     "per-process descriptor limit)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    bench_command->add_option("--server-pid", bench.server_pids,
                              "Server process to read CPU time and RSS of, with its children "
                              "(/proc); repeat for several instances: the figures are summed");
    bench_command->add_option("--output-json", bench.output_json,
                              "Write the results as JSON to FILE ('-': stdout)");
    loadgen::backplane_publish_options bus_publish;
    auto* bus_publish_command = bench_command->add_subcommand(
        "backplane-publish",
        "Broadcast publishes on any backplane, received by other instances' backplanes");
    bus_publish_command
        ->add_option("--backplane", bus_publish.backplane,
                     "The bus, as serve's --backplane (loopback hosts only)")
        ->required();
    add_duration(*bus_publish_command, "--duration", bus_publish.duration,
                 "SWITCHBOARD_BENCH_DURATION", "Length of the publish window");
    bus_publish_command
        ->add_option("--message-size", bus_publish.message_size, "Bytes of each message's text")
        ->capture_default_str();
    bus_publish_command
        ->add_option("--rate", bus_publish.rate,
                     "Publishes per second; 0: as fast as the bus delivers")
        ->capture_default_str();
    bus_publish_command
        ->add_option("--subscribers", bus_publish.subscribers,
                     "Other instances subscribed to the channel (the first is timed)")
        ->capture_default_str();
    bus_publish_command->add_option("--server-pid", bus_publish.server_pids,
                                    "The bus's server process to read CPU time of");
    bus_publish_command->add_option("--output-json", bus_publish.output_json,
                                    "Write the results as JSON to FILE ('-': stdout)");
#ifdef SWITCHBOARD_BACKPLANE_REDIS
    loadgen::redis_publish_options redis_publish;
    auto* redis_publish_command = bench_command->add_subcommand(
        "redis-publish", "Broadcast publishes into Redis through the backplane's client");
    redis_publish_command->add_option("--redis", redis_publish.redis, "Redis URL (loopback only)")
        ->capture_default_str();
    add_duration(*redis_publish_command, "--duration", redis_publish.duration,
                 "SWITCHBOARD_BENCH_DURATION", "Length of the publish window");
    redis_publish_command
        ->add_option("--message-size", redis_publish.message_size, "Bytes of each message's text")
        ->capture_default_str();
    redis_publish_command
        ->add_option("--rate", redis_publish.rate, "Publishes per second; 0: as fast as possible")
        ->capture_default_str();
    redis_publish_command
        ->add_option("--subscribers", redis_publish.subscribers,
                     "Other instances subscribed to the channel")
        ->capture_default_str();
    redis_publish_command->add_flag("--self-subscribe", redis_publish.self_subscribe,
                                    "Subscribe the publisher to the channel too, as serve does");
    redis_publish_command->add_option("--server-pid", redis_publish.server_pids,
                                      "redis-server process to read CPU time of");
    redis_publish_command->add_option("--output-json", redis_publish.output_json,
                                      "Write the results as JSON to FILE ('-': stdout)");
#endif
    // Set by the parent on the processes it starts.
    auto* worker_flag = bench_command->add_option("--worker", bench_worker)->group("");
    bench_command->add_option("--run-id", bench.run_id)->group("");

    chat::chat_options chat_flags;
    std::string chat_transport = "auto";
    std::string chat_protocol = "json";
    auto* chat_command = app.add_subcommand(
        "chat", "Interactive console chat client of the chat hub (scriptable through a pipe)");
    chat_command->add_option("--url", chat_flags.url, "The chat hub's URL")->capture_default_str();
    chat_command->add_option("--user", chat_flags.user,
                             "User id, sent as the user query parameter (development mode)");
    chat_command
        ->add_option("--token", chat_flags.token,
                     "Bearer token for servers with JWT authentication")
        ->envname("SWITCHBOARD_CHAT_TOKEN");
    chat_command->add_option("--transport", chat_transport, "websockets, sse, longpolling or auto")
        ->check(CLI::IsMember({"websockets", "sse", "longpolling", "auto"}))
        ->capture_default_str();
    chat_command->add_option("--protocol", chat_protocol, "json or messagepack")
        ->check(CLI::IsMember({"json", "messagepack"}))
        ->capture_default_str();
    chat_command
        ->add_option_function<std::string>(
            "--reconnect-delays",
            [&chat_flags](const std::string& text) {
                auto delays = chat::parse_reconnect_delays(text);
                if (!delays) {
                    throw CLI::ValidationError("--reconnect-delays", delays.error_message());
                }
                chat_flags.reconnect_delays = std::move(*delays);
            },
            "Waits before each reconnect attempt, then give up, or none (default 0,2s,10s,30s)")
        ->type_name("DURATIONS");
    bool chat_no_color = false;
    bool chat_insecure = false;
    chat_command->add_flag("--no-color", chat_no_color, "Plain output even on a terminal");
    chat_command->add_flag("--insecure", chat_insecure,
                           "Skip TLS certificate verification (tests only)");

    apps::publish_event_options publish_event;
    auto* publish_event_command = app.add_subcommand(
        "publish-event",
        "Publish to event streams through a server's REST API; without TYPE, one JSON object per "
        "stdin line ({\"type\", \"data\", \"channel\"|\"channels\"|\"all\"})");
    publish_event_command->add_option("--url", publish_event.url, "The server's base URL")
        ->capture_default_str();
    publish_event_command
        ->add_option("--token", publish_event.publisher.token,
                     "--events-publish-key of the server, or a JWT with role events:publish")
        ->envname("SWITCHBOARD_EVENTS_TOKEN");
    publish_event_command
        ->add_option("--channel", publish_event.channels,
                     "A channel to publish to; repeat for several")
        ->allow_extra_args(false);
    publish_event_command->add_flag("--all", publish_event.all,
                                    "Every channel with subscribers anywhere");
    bool publish_event_insecure = false;
    publish_event_command->add_flag("--insecure", publish_event_insecure,
                                    "Skip TLS certificate verification (tests only)");
    publish_event_command->add_option("type", publish_event.type, "The event's type (SSE name)");
    publish_event_command->add_option("data", publish_event.data, "The event's data, JSON")
        ->capture_default_str();

    apps::publish_options publish;
    std::string publish_prefix;
    auto* publish_command = app.add_subcommand(
        "publish",
        "Send a hub invocation straight into the backplane (no server socket); without TARGET, "
        "one JSON object per stdin line ({\"target\", \"arguments\", "
        "\"user\"|\"users\"|\"group\"|\"groups\"|\"connection\"|\"all\", \"exclude\"})");
    publish_command
        ->add_option("--backplane", publish.backplane,
                     "The servers' scale-out bus: " + backplanes().describe())
        ->envname("SWITCHBOARD_BACKPLANE");
    publish_command->add_option("--url", publish.url,
                                "Or through this server's REST API (http(s)://host:port)");
    publish_command
        ->add_option("--access-key", publish.access_key,
                     "The server's --access-key, to sign REST API tokens")
        ->envname("SWITCHBOARD_ACCESS_KEY");
    publish_command
        ->add_option("--connection-string", publish.connection_string,
                     "Or Endpoint=...;AccessKey=...;Version=1.0; (the REST API's URL and key)")
        ->envname("SWITCHBOARD_CONNECTION_STRING");
    publish_command
        ->add_option("--hub", publish.hub,
                     "The hub's backplane name (a relay hub's name, or a .NET hub's full type "
                     "name); with --url, its name in the REST API")
        ->required();
    auto* publish_prefix_option =
        publish_command->add_option("--prefix,--channel-prefix", publish_prefix,
                                    "Channel prefix (ASP.NET ChannelPrefix, e.g. Diquis); "
                                    "default: the backplane spec's channelPrefix=");
    publish_command->add_option("--user", publish.users, "A user to send to; repeat for several")
        ->allow_extra_args(false);
    publish_command->add_option("--group", publish.groups, "A group to send to; repeat")
        ->allow_extra_args(false);
    publish_command
        ->add_option("--connection", publish.connections, "A connection id to send to; repeat")
        ->allow_extra_args(false);
    publish_command
        ->add_option("--exclude", publish.excluded,
                     "A connection id left out (with --all or --group); repeat")
        ->allow_extra_args(false);
    publish_command->add_flag("--all", publish.all, "Every connection of the hub (the default)");
    add_duration(*publish_command, "--timeout", publish.timeout, "SWITCHBOARD_PUBLISH_TIMEOUT",
                 "Bound on connecting to the backplane and on its confirmations");
    publish_command->add_option("target", publish.target, "The client method to invoke");
    publish_command->add_option("arguments", publish.arguments,
                                "Its arguments: a JSON array, or one JSON value");

    std::string check_file;
    auto* config_command = app.add_subcommand("config", "Configuration tools");
    config_command->require_subcommand(1);
    auto* config_check = config_command->add_subcommand(
        "check",
        "Print serve's effective configuration for FILE (with the environment) as JSON, secrets "
        "redacted; exits 2 when a setting is unusable");
    config_check->add_option("file", check_file, "The --config file (appsettings.json works)")
        ->required();

    // `doctor` takes serve's flags: argv is parsed as serve's (below); this entry is its help.
    app.add_subcommand("doctor",
                       "Check what bites operators first (descriptor limit, backplane and its "
                       "latency, clock skew, TLS files, port) for serve's flags, variables and "
                       "--config; exits 1 with the fix for each failure")
        ->allow_extras()
        ->prefix_command();

    // Bad flags of `chat` exit with 2, its documented status; the other subcommands keep
    // CLI11's codes.
    const bool chat_requested = argc > 1 && std::string_view(argv[1]) == "chat";
    const bool doctor_requested = argc > 1 && std::string_view(argv[1]) == "doctor";
    std::string serve_word = "serve";
    if (doctor_requested) {
        argv[1] = serve_word.data();
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return chat_requested && code != 0 ? chat::exit_usage : code;
    }
    const std::vector<std::string> args(argv, argv + argc);
    if (config_check->parsed()) {
        return apps::run_config_check(app, *serve, check_file, args);
    }
    std::vector<std::string> config_warnings;
    if (serve->parsed()) {
        try {
            config_warnings = apps::apply_config(app, *serve, config_file, args).warnings;
        } catch (const apps::config_error& e) {
            std::fprintf(stderr, "switchboard: %s\n", e.what());
            return apps::exit_bad_config;
        }
    }
    if (log_format == "json") {
        use_json_log_format();
    }
    spdlog::set_level(spdlog::level::from_str(log_level));
    for (const auto& warning : config_warnings) {
        spdlog::warn("configuration: {}", warning);
    }

    try {
        if (doctor_requested) {
            return apps::run_doctor(options);
        }
        if (serve->parsed()) {
            return run_serve(std::move(options), std::move(chat), relay, calls);
        }
        if (token_command->parsed()) {
            return run_token(token);
        }
        if (chat_command->parsed()) {
            chat_flags.transports = *chat::parse_transport(chat_transport);
            chat_flags.protocol = chat_protocol == "json" ? client::hub_protocol::json
                                                          : client::hub_protocol::messagepack;
            chat_flags.color = !chat_no_color;
            chat_flags.verify_certificate = !chat_insecure;
            // stdout is the chat's: the client library's log goes to stderr, errors only, so it
            // does not scroll the conversation away (what fails reaches the chat as an event).
            spdlog::set_default_logger(spdlog::stderr_color_mt("chat"));
            spdlog::set_level(spdlog::level::err);
            return chat::run_chat(chat_flags);
        }
        if (publish_command->parsed()) {
            if (publish_prefix_option->count() > 0) {
                publish.channel_prefix = publish_prefix;
            }
            // stdout stays free for scripts; the bus's own log only for errors, on stderr:
            // the command reports what failed itself.
            spdlog::set_default_logger(spdlog::stderr_color_mt("publish"));
            spdlog::set_level(spdlog::level::off);
            return apps::run_publish(publish);
        }
        if (publish_event_command->parsed()) {
            publish_event.publisher.verify_certificate = !publish_event_insecure;
            return apps::run_publish_event(publish_event);
        }
        if (bus_publish_command->parsed()) {
            return loadgen::run_backplane_publish(bus_publish);
        }
#ifdef SWITCHBOARD_BACKPLANE_REDIS
        if (redis_publish_command->parsed()) {
            return loadgen::run_redis_publish(redis_publish);
        }
#endif
        if (bench_command->parsed()) {
            auto kind = loadgen::parse_scenario(bench_scenario);
            if (!kind) {
                throw std::runtime_error("bench: " + kind.error_message());
            }
            bench.kind = *kind;
            bench.system = *loadgen::parse_system(bench_target);
            bench.protocol = bench_protocol == "json" ? client::hub_protocol::json
                                                      : client::hub_protocol::messagepack;
            if (worker_flag->count() > 0) {
                bench.worker_index = bench_worker;
            }
            bench.command_line.assign(argv, argv + argc);
            return loadgen::run_bench(std::move(bench));
        }
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    return 0;
}
