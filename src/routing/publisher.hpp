// Hub invocations and group changes published straight into the scale-out bus, as a .NET
// IHubContext does over the ASP.NET Redis backplane: for workers that hold no client connection
// (`switchboard publish`, examples/worker), whichever instance holds a recipient delivers.
#pragma once

#include "core/expected.hpp"
#include "routing/backplane.hpp"
#include "routing/backplane_factory.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace switchboard::routing {

// Who receives a publication: the targets of IHubContext.Clients.
struct recipients {
    enum class kind : unsigned char { all, users, groups, connections };
    kind type = kind::all;
    std::vector<std::string> names;  // user ids, group names or connection ids; none for all
    // Connection ids left out (AllExcept, GroupExcept): the ASP.NET layout carries them for the
    // all and group channels only, so they are refused with the other kinds.
    std::vector<std::string> excluded;
};

struct publication {
    std::string hub;  // the hub's backplane name; empty: the publisher's hub
    std::string target;
    boost::json::array arguments;
    recipients to;
};

// Why `p` cannot be published (no target, an empty name, exclusions with users), or nothing.
[[nodiscard]] expected<void> check_publication(const publication& p);

// What a publication puts on the bus: one invocation payload (json and messagepack framings,
// backplanes.md §2.1), serialized once, on each addressed channel (prefix included).
struct encoded_publication {
    std::vector<std::string> channels;
    std::string payload;
};

// The ASP.NET scale-out messages of a checked publication. Pure, so the tests compare it with
// the ASP.NET layouts byte for byte.
[[nodiscard]] encoded_publication encode_publication(const publication& p,
                                                     const std::string& channel_prefix,
                                                     const std::string& default_hub);

struct publisher_options {
    // The hub's backplane name: a Switchboard hub's name, or a .NET hub's full type name.
    std::string hub;
    // Raw bytes before every channel name; nullopt: what the bus spec says (Redis
    // channelPrefix=...). Every instance and .NET server of the farm must use the same.
    std::optional<std::string> channel_prefix;
    // Names this publisher's ack channel; empty: hostname_random, unique per run, as ASP.NET.
    std::string server_name;
    // A group change for a connection no instance holds is never acknowledged (the ASP.NET
    // protocol has no negative ack): it fails after this long. .NET waits 30 s; 10 s is the
    // servers' --group-ack-timeout default, far above a healthy bus's milliseconds.
    std::chrono::milliseconds group_ack_timeout{10'000};
};

using completion_handler = std::function<void(expected<void>)>;

// Threading: every member is called on `control`'s thread, which must run the context, and
// every handler runs there. Nothing blocks; waits are timers on the context. See
// blocking_publisher for a thread-safe form that waits.
class publisher final : private backplane_handler {
public:
    // Takes the bus (not started).
    publisher(boost::asio::io_context& control, made_backplane bus, publisher_options options);
    ~publisher() override;
    publisher(const publisher&) = delete;
    publisher& operator=(const publisher&) = delete;

    // Starts the bus and listens for acks; `done` once the bus is connected, or with an error
    // after `timeout` (an unreachable server is retried in the background until then).
    void start(std::chrono::milliseconds timeout, completion_handler done);
    // Checks, encodes and hands the messages to the bus; an error for bad input only.
    // Delivery is at most once, as for every ASP.NET publication: see flush().
    expected<void> publish(const publication& p);
    // What publish() hands to the bus, for a caller that encoded on another thread.
    void publish(encoded_publication encoded);
    // `done` once the bus's server confirmed every publication so far (Redis answered each
    // PUBLISH), or with an error after `timeout` or when some were dropped or refused.
    void flush(std::chrono::milliseconds timeout, completion_handler done);
    // A connection of `hub` (empty: the publisher's) joins or leaves a group on whichever
    // instance holds it; `done` when that instance acknowledged, or with an error after
    // group_ack_timeout (no instance holds the connection, or the bus lost the command).
    void add_to_group(std::string hub, std::string connection_id, std::string group,
                      completion_handler done);
    void remove_from_group(std::string hub, std::string connection_id, std::string group,
                           completion_handler done);
    // Ends every wait (with an error) and stops the bus.
    void stop();

    [[nodiscard]] const std::string& channel_prefix() const noexcept { return prefix_; }
    [[nodiscard]] const std::string& server_name() const noexcept { return options_.server_name; }
    [[nodiscard]] backplane& bus() noexcept { return *bus_; }

private:
    struct pending_ack;
    void on_backplane_message(std::string_view channel, const shared_buffer& payload) override;
    void group_change(bool add, std::string hub, std::string connection_id, std::string group,
                      completion_handler done);
    void finish_ack(std::int32_t id, expected<void> result);
    void barrier(std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds timeout,
                 completion_handler done);

    boost::asio::io_context& control_;
    std::unique_ptr<backplane> bus_;
    std::string prefix_;
    publisher_options options_;
    bool started_ = false;
    bool stopped_ = false;
    std::uint64_t dropped_at_start_ = 0;
    std::uint64_t refused_at_start_ = 0;
    std::int32_t next_ack_id_ = 0;
    std::map<std::int32_t, std::shared_ptr<pending_ack>> acks_;
    std::vector<std::string> ack_channels_;  // subscribed, one per hub used
    // Handlers of timers still armed hold this weakly: a stopped publisher ignores them.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The publisher on a thread of its own, with calls that wait: for programs without an event
// loop (a worker's job loop). Thread safety: any thread may call any member; calls are run in
// order on the publisher's thread.
class blocking_publisher {
public:
    using bus_maker = std::function<made_backplane(boost::asio::io_context& control)>;
    // Throws what `make` throws (a malformed bus spec).
    blocking_publisher(const bus_maker& make, publisher_options options);
    // Stops the bus and joins the thread; unflushed publications may be lost.
    ~blocking_publisher();
    blocking_publisher(const blocking_publisher&) = delete;
    blocking_publisher& operator=(const blocking_publisher&) = delete;

    expected<void> connect(std::chrono::milliseconds timeout);
    // Checks and encodes on the caller's thread and returns without waiting for the bus (a
    // script's stream of lines is not one thread round trip per line); publications keep
    // their order. An error for bad input only: flush() reports what the bus did with them.
    expected<void> publish(const publication& p);
    expected<void> flush(std::chrono::milliseconds timeout);
    expected<void> add_to_group(const std::string& hub, const std::string& connection_id,
                                const std::string& group);
    expected<void> remove_from_group(const std::string& hub, const std::string& connection_id,
                                     const std::string& group);
    [[nodiscard]] std::string channel_prefix() const;

private:
    // Runs `start(done)` on the publisher's thread and waits for `done`.
    expected<void> wait(const std::function<void(publisher&, completion_handler)>& start);

    publisher_options options_;  // as given, for encoding on the caller's thread
    std::string prefix_;
    // Publications posted since the caller last waited for the publisher's thread: bounded by
    // max_unsynced, so a caller faster than the bus cannot queue handlers without end.
    std::atomic<std::size_t> unsynced_{0};
    boost::asio::io_context context_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::unique_ptr<publisher> publisher_;
    std::thread thread_;
};

}  // namespace switchboard::routing
