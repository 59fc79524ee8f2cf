// The HTTP face of event streams: GET /events (subscribe), POST /api/events (publish) and
// GET /api/events/diagnostics, with their validation and authorization (docs/events.md).
#pragma once

#include "core/metrics.hpp"
#include "events/names.hpp"
#include "events/registry.hpp"
#include "http/authenticate.hpp"
#include "http/server.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::events {

// At most this many channels per subscription: bounds the work and memory one request costs.
inline constexpr std::size_t max_channels_per_request = 64;

class http_api {
public:
    // `authenticate` is the hubs' JWT hook (empty: anonymous); `instance_name` is reported
    // by diagnostics.
    http_api(registry& events, http::authenticate_hook authenticate, std::string instance_name,
             switchboard::metrics* counters);

    // Routes GET /events and /events/<channel>.
    void handle_subscribe(http::request& req, const std::shared_ptr<http::exchange>& ex);
    // Routes POST /api/events, POST /api/events/<channel>, GET /api/events/diagnostics.
    void handle_api(http::request& req, const std::shared_ptr<http::exchange>& ex);

private:
    enum class verdict : unsigned char { allowed, unauthorized, forbidden, disabled };
    [[nodiscard]] verdict may_publish(const http::request& req) const;
    void publish(http::request& req, const std::shared_ptr<http::exchange>& ex,
                 std::string_view path_channel);
    void diagnostics(http::request& req, const std::shared_ptr<http::exchange>& ex);
    // Fetches the upstream snapshots of `channels` (those matching --events-snapshot) and hands
    // them to `stream`, held until then; false when none applies (nothing held).
    bool start_snapshots(const std::shared_ptr<class event_stream>& stream,
                         const std::vector<std::string>& channels, const std::string& user,
                         const http::request& req, std::size_t shard);

    struct snapshot_rule {
        channel_patterns pattern;
        std::string url;
    };

    registry& events_;
    std::vector<snapshot_rule> snapshots_;
    http::authenticate_hook authenticate_;
    channel_patterns allowed_;
    std::string instance_name_;
    switchboard::metrics* counters_;
};

}  // namespace switchboard::events
