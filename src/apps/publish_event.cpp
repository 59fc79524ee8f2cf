#include "apps/publish_event.hpp"

#include <boost/json/parse.hpp>

#include <cstdio>
#include <iostream>

namespace switchboard::apps {

namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

// A line from stdin: {"type", "data", and "channel", "channels" or "all"}; what the command
// line gave fills in what the line leaves out.
expected<client::event_publication> parse_line(std::string_view line,
                                               const client::event_publication& defaults) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) {
        return make_error("not a JSON object");
    }
    const auto& object = value.get_object();
    auto event = defaults;
    if (const auto* type = object.if_contains("type")) {
        if (!type->is_string()) {
            return make_error("\"type\" must be a string");
        }
        event.type = std::string(type->get_string());
    }
    if (const auto* data = object.if_contains("data")) {
        event.data = *data;
    }
    if (const auto* channel = object.if_contains("channel")) {
        if (!channel->is_string()) {
            return make_error("\"channel\" must be a string");
        }
        event.channels = {std::string(channel->get_string())};
        event.all = false;
    }
    if (const auto* channels = object.if_contains("channels")) {
        if (!channels->is_array()) {
            return make_error("\"channels\" must be an array of strings");
        }
        event.channels.clear();
        for (const auto& channel : channels->get_array()) {
            if (!channel.is_string()) {
                return make_error("\"channels\" must be an array of strings");
            }
            event.channels.emplace_back(channel.get_string());
        }
        event.all = false;
    }
    if (const auto* all = object.if_contains("all")) {
        event.all = all->is_bool() && all->get_bool();
    }
    if (event.type.empty()) {
        return make_error("no \"type\"");
    }
    if (event.channels.empty() && !event.all) {
        return make_error("no \"channel\", \"channels\" or \"all\"");
    }
    return event;
}

bool publish_one(client::event_publisher& publisher, const client::event_publication& event,
                 const std::string& where) {
    auto ids = publisher.publish(event);
    if (!ids) {
        std::fprintf(stderr, "publish-event: %s%s\n", where.c_str(), ids.error_message().c_str());
        return false;
    }
    for (const auto& [channel, id] : *ids) {
        std::printf("%s %s\n", channel.c_str(), id.c_str());
    }
    std::fflush(stdout);
    return true;
}

}  // namespace

int run_publish_event(const publish_event_options& options) {
    client::event_publication defaults;
    defaults.channels = options.channels;
    defaults.all = options.all;
    client::event_publisher publisher(options.url, options.publisher);

    if (!options.type.empty()) {
        if (options.channels.empty() && !options.all) {
            std::fprintf(stderr, "publish-event: name a --channel or --all\n");
            return exit_usage;
        }
        boost::system::error_code ec;
        defaults.data = boost::json::parse(options.data, ec);
        if (ec) {
            std::fprintf(stderr,
                         "publish-event: DATA must be JSON (a string needs quotes: '\"text\"')\n");
            return exit_usage;
        }
        defaults.type = options.type;
        return publish_one(publisher, defaults, "") ? 0 : exit_failed;
    }

    // One event per line; a bad line is reported with its number and the rest still go.
    int status = 0;
    std::string line;
    for (std::size_t number = 1; std::getline(std::cin, line); ++number) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        // By appends: GCC 12 warns falsely (-Wrestrict) on "line " + std::to_string(...).
        std::string where = "line ";
        where.append(std::to_string(number)).append(": ");
        auto event = parse_line(line, defaults);
        if (!event) {
            std::fprintf(stderr, "publish-event: %s%s\n", where.c_str(),
                         event.error_message().c_str());
            status = exit_failed;
            continue;
        }
        if (!publish_one(publisher, *event, where)) {
            status = exit_failed;
        }
    }
    return status;
}

}  // namespace switchboard::apps
