// Durable mode's bus on NATS JetStream: every publication is a message of one stream per
// deployment, read back by every instance in stream order through a consumer of its own, plus
// small records in a KV bucket with compare-and-set. Both routing::backplane and
// routing::durable_log.
#pragma once

#include "routing/backplane.hpp"
#include "routing/durable_log.hpp"
#include "routing/nats/connection_string.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace switchboard::routing::nats {

struct log_options {
    connection_options connection;
    // This instance's router_options::server_name: the origin of its entries.
    std::string server_name;
    // --durable-window: the stream's MaxAge and the record bucket's TTL.
    std::chrono::milliseconds window{std::chrono::minutes(5)};
    // --durable-max-entries: the stream's MaxMsgs; 0 keeps no cap.
    std::size_t max_entries = 0;
    // --durable-max-bytes: the stream's MaxBytes (JetStream counts whole messages); 0: none.
    std::size_t max_bytes = 0;
    // Copies of the stream and the bucket when this bus creates them: the connection string's
    // presence_replicas, the one replication setting a NATS deployment gives Switchboard.
    int replicas = 1;
    // Publications waiting for the worker and in cnats' reconnect buffer; beyond it they are
    // dropped and counted. 8 MiB: cnats' default, used when --backplane-buffer-size gives 0.
    std::size_t max_buffered_bytes = 8 * 1024 * 1024;
    // Jobs (publications and record calls) waiting for the worker: 65,536, a few seconds of a
    // busy instance's publications; beyond it publications are dropped, queries refused.
    std::size_t max_queued_jobs = 65'536;
    // Entries read and posted to the control shard but not handled yet: beyond either bound
    // the reader pauses (the stream keeps them; the server stops pushing by flow control).
    std::size_t max_in_flight_entries = 65'536;
    std::size_t max_in_flight_bytes = 64 * 1024 * 1024;
    // One JetStream API request (stream info, KV calls, a read): 2 s, cnats' KV default.
    std::chrono::milliseconds request_timeout{2'000};
    // An unacknowledged publication stops being waited for after this (it stays unconfirmed):
    // 10 s outlasts a server restart's recovery on a loaded machine.
    std::chrono::milliseconds ack_timeout{10'000};
    // Between reconnect rounds: 2 s plus up to 100 ms, the NATS clients' defaults.
    std::chrono::milliseconds reconnect_wait{2'000};
    std::chrono::milliseconds reconnect_jitter{100};
    // One connect attempt to one server: 2 s, cnats' default.
    std::chrono::milliseconds connect_timeout{2'000};
    // How long the reader waits for a message before it checks the stream's state (trimmed
    // past its position, recreated, or a consumer that stopped delivering): 1 s.
    std::chrono::milliseconds idle_check{1'000};
};

// Names in JetStream: the subject prefix ("switchboard.") with '.' as '_' roots the stream
// ("switchboard_log") and the bucket ("switchboard_records"); the stream takes one subject,
// "<prefix>log". Entries are framed "<origin size>:<origin><channel size>:<channel><payload>"
// (channel names are any bytes, which headers cannot carry); ids are stream sequences.
//
// Threads: a worker runs publications (asynchronous JetStream publishes, in order) and the
// blocking KV and read calls from a bounded queue, and posts answers to `context` (the
// control shard); a reader runs a push consumer from position()+1 and posts entries in
// order. The worker starts on its queue, and connected() turns true, only once the reader
// took its starting point (the stream's end), so no entry of this instance is behind it. Every read
// is checked: a sequence past position()+1, a stream created anew, or one whose first sequence is
// past position()+1 is a gap (observer->on_log_gap(), then reading goes on from there). After a
// reconnect the reader subscribes again from position()+1, so what the others published meanwhile
// arrives late but is not lost within the window. Startup: a server that answers without JetStream
// stops the process (the constructor throws); one unreachable at startup is checked once it is
// reached (an error in the log and connected() false when it has none).
class log_backplane final : public backplane, public durable_log {
public:
    // Throws std::invalid_argument for options cnats refuses or a server without JetStream.
    log_backplane(boost::asio::io_context& context, log_options options);
    ~log_backplane() override;
    log_backplane(const log_backplane&) = delete;
    log_backplane& operator=(const log_backplane&) = delete;

    // backplane
    void start(backplane_handler& handler) override;
    // On the control shard or after its threads stopped; joins the worker and the reader.
    void stop() override;
    void subscribe(const std::string& channel) override;
    void unsubscribe(const std::string& channel) override;
    void publish(const std::string& channel, shared_buffer payload) override;
    // The stream carries every channel: a subscription counts for every entry not handed on
    // yet, so `then` runs at once (posted).
    void when_subscribed(const std::string& channel, std::function<void()> then) override;
    [[nodiscard]] bool connected() const override;
    [[nodiscard]] std::uint64_t dropped_publications() const override;
    [[nodiscard]] std::uint64_t unconfirmed_publications() const override;
    [[nodiscard]] std::uint64_t refused_publications() const override;
    [[nodiscard]] std::uint64_t rejected_messages() const override;
    [[nodiscard]] std::uint64_t reconnects() const override;
    [[nodiscard]] std::size_t buffered_bytes() const override;

    // durable_log
    void set_observer(log_observer* observer) override;
    [[nodiscard]] const std::string& position() const override;
    [[nodiscard]] std::chrono::milliseconds window() const override;
    void read_after(const std::string& after, std::size_t count, read_handler done) override;
    void put_record(const std::string& key, std::string value,
                    std::chrono::milliseconds ttl) override;
    void get_record(const std::string& key, get_handler done) override;
    void compare_and_set_record(const std::string& key, std::string expected, std::string desired,
                                std::chrono::milliseconds ttl, swap_handler done) override;
    void erase_record(const std::string& key) override;

    // The JetStream names, for tests and operators.
    [[nodiscard]] const std::string& stream_name() const noexcept;
    [[nodiscard]] const std::string& subject() const noexcept;
    [[nodiscard]] const std::string& bucket_name() const noexcept;

    class state;

private:
    boost::asio::io_context& context_;
    std::shared_ptr<state> state_;
};

}  // namespace switchboard::routing::nats
