// `switchboard publish-event`: events into a server's event streams through its REST API, one
// from the command line or many from stdin (a JSON object per line), for scripts and cron jobs.
#pragma once

#include "client/event_publisher.hpp"

#include <string>
#include <vector>

namespace switchboard::apps {

struct publish_event_options {
    std::string url = "http://localhost:5000";
    client::event_publisher_options publisher;
    std::vector<std::string> channels;
    bool all = false;
    std::string type;  // empty: read events from stdin
    std::string data = "null";
};

// Exit statuses: 0 all published, 1 some publish failed (each reported on stderr), 2 bad input
// on the command line.
int run_publish_event(const publish_event_options& options);

}  // namespace switchboard::apps
