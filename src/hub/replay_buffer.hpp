// Stateful reconnect's bookkeeping for one connection (HubProtocol.md, Ack and Sequence):
// numbers the trackable messages of both directions, keeps sent ones until the client acks
// them (bounded in bytes), and spots received ones the client replays after a reconnect.
#pragma once

#include "core/shared_buffer.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace switchboard::hub {

// Thread safety: lives on its connection's shard, as a member of the hub connection.
// Invariant: while enabled, bytes() is the sum of the sizes of the kept messages, whose ids
// increase by one from the oldest unacked to sent().
class replay_buffer {
public:
    // hub_options::stateful_reconnect_buffer_size.
    explicit replay_buffer(std::size_t max_bytes) noexcept : max_bytes_(max_bytes) {}

    // Off until a version 2 handshake on a transport that negotiated stateful reconnect: off,
    // track() keeps nothing and accept() accepts everything.
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }
    void enable() noexcept { enabled_ = true; }
    // Continues a connection taken over from another instance (durable mode), which had sent
    // `sent` messages. What the old instance received is unknown: the client's first Sequence
    // is taken as it comes, and every message it replays is accepted (at least once).
    void adopt(std::int64_t sent) noexcept {
        enabled_ = true;
        sent_ = sent;
        adopted_ = true;
    }

    // Sending side. Numbers `bytes` and keeps it for replay. False when it overflowed the
    // bound: the client does not ack fast enough, so stateful reconnect is now off and
    // everything kept is released (the caller tells the transport).
    [[nodiscard]] bool track(const shared_buffer& bytes);
    // The client has every message up to `sequence_id`: they need no replay.
    void on_ack(std::int64_t sequence_id);
    // The id of the first message a replay sends (sent() + 1 when nothing is kept): the
    // Sequence message that precedes the replay.
    [[nodiscard]] std::int64_t first_kept() const noexcept;
    // Visits every kept message, oldest first.
    template <class F>
    void for_each_kept(F&& f) const {
        if (kept_) {
            for (const auto& entry : *kept_) {
                f(entry.second);
            }
        }
    }
    [[nodiscard]] std::int64_t sent() const noexcept { return sent_; }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

    // Receiving side. Counts one trackable message; false when it was received before (the
    // client replays from its last acked id after a reconnect). Always true when off.
    [[nodiscard]] bool accept() noexcept;
    // The client's Sequence: its replay restarts the count at `sequence_id`. False when that
    // is past what was received (ASP.NET closes the connection then).
    [[nodiscard]] bool on_sequence(std::int64_t sequence_id) noexcept;
    // The id to acknowledge when it moved since the last call.
    [[nodiscard]] std::optional<std::int64_t> take_ack() noexcept;

private:
    std::size_t max_bytes_;
    bool enabled_ = false;
    std::int64_t sent_ = 0;
    // Engaged on the first tracked send: an empty std::deque allocates ~600 bytes, which every
    // connection would pay whether it negotiated stateful reconnect or not.
    std::optional<std::deque<std::pair<std::int64_t, shared_buffer>>> kept_;
    std::size_t bytes_ = 0;
    std::int64_t next_receiving_id_ = 1;
    std::int64_t latest_received_id_ = 0;
    std::int64_t last_acked_id_ = 0;
    bool adopted_ = false;  // the next Sequence sets the receiving count
};

}  // namespace switchboard::hub
