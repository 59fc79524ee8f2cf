// Publishing to Switchboard's event streams through a server's REST API (`POST /api/events`):
// what `switchboard publish-event` and C++ workers without a server of their own use.
#pragma once

#include "core/expected.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace switchboard::client {

struct event_publication {
    std::vector<std::string> channels;  // one or more; ignored with `all`
    bool all = false;                   // every channel with subscribers anywhere
    std::string type;                   // the SSE event name
    boost::json::value data;
};

struct event_publisher_options {
    // The server's --events-publish-key, or a JWT with the role events:publish.
    std::string token;
    bool verify_certificate = true;
    std::string ca_file;  // a PEM bundle trusted besides the system's CAs
    // A publish is one small request; a server that takes longer is in trouble.
    std::chrono::milliseconds timeout{10'000};
};

// Thread safety: one publish at a time per publisher (each runs its own short event loop).
class event_publisher {
public:
    // `server_url`: the server's base URL, e.g. http://localhost:5000.
    explicit event_publisher(std::string server_url, event_publisher_options options = {});
    ~event_publisher();
    event_publisher(const event_publisher&) = delete;
    event_publisher& operator=(const event_publisher&) = delete;

    // Blocks until the server accepted the event: the id it got on each channel, or why not
    // (the server's status and message, or the connection error).
    expected<std::map<std::string, std::string>> publish(const event_publication& event);

private:
    std::string server_url_;
    event_publisher_options options_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
};

}  // namespace switchboard::client
