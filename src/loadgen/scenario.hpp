// Load scenarios against the chat hub, modelled on Azure SignalR Service's performance guide:
// what each connection joins, who sends what to whom, and how many deliveries a send makes.
#pragma once

#include "client/hub_client.hpp"
#include "core/expected.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::loadgen {

enum class scenario : unsigned char {
    echo,        // SendToUser(own user): one delivery back to the sender
    broadcast,   // SendMessage: every connection receives every message
    group,       // groups of group_size; SendToGroup(own group) reaches its members
    big_group,   // one group holding every connection
    connection,  // SendToUser(the next connection's user): it and the sender get a copy
    idle,        // connect and hold: memory per connection
    sse,         // Server-Sent Events subscribers on --channels channels, HTTP publishers
    sse_idle,    // SSE subscribers that only hold: memory per idle subscriber
};

// The event-stream scenarios: subscribers are HTTP GETs, not hub or WebSocket connections.
[[nodiscard]] constexpr bool is_sse(scenario kind) noexcept {
    return kind == scenario::sse || kind == scenario::sse_idle;
}

// Azure's small-group scenario.
inline constexpr std::size_t group_size = 10;

expected<scenario> parse_scenario(std::string_view name);
std::string_view scenario_name(scenario kind) noexcept;

// The system under load: Switchboard's chat hub, or a peer of bench/peers (bench/peers/README.md
// maps the scenarios to its events or channels).
enum class system_kind : unsigned char { switchboard, socketio, nchan };

expected<system_kind> parse_system(std::string_view name);
std::string_view system_name(system_kind kind) noexcept;
// Why `kind` cannot run `scenario`, or nothing when it can.
std::optional<std::string> unsupported(system_kind kind, scenario scenario);

struct bench_options {
    scenario kind = scenario::broadcast;
    system_kind system = system_kind::switchboard;
    // Connection i goes to urls[i % size]; senders are spread as the plan says, so with one
    // sender (broadcast) it sits on the first URL and the others measure cross-instance delivery.
    std::vector<std::string> urls{"http://127.0.0.1:5000/hubs/chat"};
    std::size_t connections = 100;
    // 0: the scenario's default, one sender for broadcast and big-group (the fan-out is the
    // load), every connection for the others (as in Azure's guide).
    std::size_t senders = 0;
    // Azure's guide sends 1 message per second per connection.
    double rate = 1.0;
    // Bytes of the text argument; Azure's guide uses 2,048.
    std::size_t message_size = 256;
    // sse: subscriber i is on channel i % channels; publisher k posts to channel k % channels.
    std::size_t channels = 1;
    // sse on Switchboard: the server's --events-publish-key, sent as a bearer token; empty: none
    // (the server runs with --events-open).
    std::string publish_key;
    std::chrono::milliseconds duration{10'000};
    // A delivery later than this still counts as delivered, but not as on time: past
    // saturation a system delivers everything eventually, only late (bench/README.md).
    std::chrono::milliseconds deadline{1'000};
    client::hub_protocol protocol = client::hub_protocol::json;
    // Switchboard hub scenarios: every connection negotiates stateful reconnect and acks what
    // it receives once a second (client::connect_options::stateful).
    bool stateful = false;
    std::string source_addresses;  // "127.0.0.1-127.0.0.20" or a comma list; empty: any
    std::size_t threads = 1;
    // Servers (with their child processes) to read CPU and memory of; none: no such figures.
    std::vector<int> server_pids;
    std::string output_json;  // file, "-" for stdout
    std::size_t processes = 1;
    // Connection attempts in flight per thread: enough to connect thousands per second
    // without overflowing the server's accept backlog.
    std::size_t connect_concurrency = 128;

    // Set for a worker process: its index; the parent passes its own run id.
    std::optional<std::size_t> worker_index;
    std::string run_id;
    std::vector<std::string> command_line;  // argv, re-executed for worker processes
};

// What a send needs: the server endpoint and the path of every connection.
struct target {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host;
    std::string path;  // without the query
};

// Only loopback servers: the generator must never load anything beyond this machine.
expected<target> parse_target(std::string_view url);
// "127.0.0.1-127.0.0.20", "127.0.0.1,127.0.0.2" or empty; loopback addresses only.
expected<std::vector<boost::asio::ip::address>> parse_source_addresses(std::string_view text);

// Everything about who does what, from the global connection index (shared by all workers).
class plan {
public:
    explicit plan(const bench_options& options);

    [[nodiscard]] std::size_t senders() const noexcept { return senders_; }
    [[nodiscard]] bool is_sender(std::size_t index) const noexcept;
    // k for the k-th sender (0-based), which sits at index floor(k * connections / senders).
    [[nodiscard]] std::size_t sender_ordinal(std::size_t index) const noexcept;
    // Spreads senders evenly over a send period, so they do not all fire at once.
    [[nodiscard]] double phase_of(std::size_t index) const noexcept;
    [[nodiscard]] std::string user_of(std::size_t index) const;
    // Empty when the scenario uses no groups.
    [[nodiscard]] std::string group_of(std::size_t index) const;
    // The instance (index into --url) connection `index` is on.
    [[nodiscard]] std::size_t instance_of(std::size_t index) const noexcept;
    // The instance a sender's messages enter the system on: its own connection's, save for
    // HTTP publishers: Switchboard's event publishers alternate by sender ordinal, Nchan's
    // all post to the first URL.
    [[nodiscard]] std::size_t publish_instance_of(std::size_t index) const noexcept;
    // Deliveries one message from this sender makes when every connection is up.
    [[nodiscard]] std::uint64_t fanout_of(std::size_t index) const noexcept;
    // The hub method and its arguments for one message with `text`.
    void message_from(std::size_t index, std::string text, std::string_view& method,
                      boost::json::array& arguments) const;

    // Socket.IO (without the engine.io "4"): the packet a sender emits, and the group join
    // (with ack id 0) a group member emits once connected.
    void socketio_message_from(std::size_t index, std::string_view text, std::string& out) const;
    [[nodiscard]] std::string socketio_join(std::size_t index) const;
    // Nchan: the channel a connection subscribes to and the one a sender publishes to.
    [[nodiscard]] std::string nchan_subscribe_channel(std::size_t index) const;
    [[nodiscard]] std::string nchan_publish_channel(std::size_t index) const;
    // Event streams: the channel (number and name) subscriber `index` reads, the one sender
    // `index` publishes to, the GET target that subscribes, and one publish request.
    [[nodiscard]] std::size_t sse_channel_number(std::size_t index) const noexcept;
    [[nodiscard]] std::size_t sse_publish_channel_number(std::size_t index) const noexcept;
    [[nodiscard]] std::string sse_channel_name(std::size_t number) const;
    [[nodiscard]] std::string sse_subscribe_target(std::size_t index) const;
    void sse_publish_request(std::size_t index, std::string_view text, std::string& target,
                             std::string& body) const;

private:
    scenario kind_;
    system_kind system_;
    std::size_t connections_;
    std::size_t senders_;
    std::size_t channels_;
    std::size_t instances_;
    std::string run_id_;
};

// The text of a message: the send time (steady clock, shared by all processes on this host)
// as 20 digits of nanoseconds, then the instance it was published on (decimal, when given and
// if it fits), then padding up to `size` bytes.
void write_payload(std::uint64_t send_ns, std::size_t size, std::string& out,
                   std::optional<std::size_t> origin = std::nullopt);
// The send time of a payload, or nothing for text the generator did not write.
std::optional<std::uint64_t> read_payload(std::string_view text) noexcept;
// The instance a payload was published on, or nothing when it carries none.
std::optional<std::size_t> read_origin(std::string_view text) noexcept;
// A receiver on `instance` got a message published on `origin` of `instances`: did it cross
// the backplane? Unknown origins count as not crossing.
[[nodiscard]] bool crossed_instances(std::optional<std::size_t> origin, std::size_t instance,
                                     std::size_t instances) noexcept;

std::uint64_t steady_ns() noexcept;

}  // namespace switchboard::loadgen
