#include "apps/publish.hpp"

#include "routing/publication_json.hpp"
#include "server/backends.hpp"

#include <cstdio>
#include <iostream>

namespace switchboard::apps {

namespace {

void report(const std::string& where, const std::string& message) {
    std::fprintf(stderr, "publish: %s%s\n", where.c_str(), message.c_str());
}

}  // namespace

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

int run_publish(const publish_options& options) {
    if (options.hub.empty()) {
        report("", "--hub is required (the hub's backplane name)");
        return publish_exit_usage;
    }
    if (options.backplane.empty() || backplanes().name_of(options.backplane) == "memory") {
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
            if (auto ok = publisher->publish(*publication); !ok) {
                report(at, ok.error_message());
                status = publish_exit_usage;
                continue;
            }
        }
    }
    // Exiting before the bus confirmed would lose what is still in the socket's buffers.
    if (auto flushed = publisher->flush(options.timeout); !flushed) {
        report("", where + ": " + flushed.error_message());
        return publish_exit_failed;
    }
    return status;
}

}  // namespace switchboard::apps
