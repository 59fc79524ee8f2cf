// Settings of event streams (docs/events.md); every field has a `switchboard serve` flag.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace switchboard::events {

// How an event from a StateleSSE envelope is named (the envelope carries no type).
enum class statelesse_type_rule {
    last_segment,  // the last ':'-part of the GroupId when it looks like a type name
    message,       // always "message" (EventSource's onmessage)
};

struct events_options {
    // Events kept per channel for Last-Event-ID resume: 100 covers a reconnect (3 s retry)
    // of any channel a browser can render, at a bounded cost per channel.
    std::size_t history = 100;
    // ...and for at most this long: a client away for longer reloads its state anyway.
    std::chrono::milliseconds history_age{std::chrono::minutes(5)};
    // Keep the history in the backplane too (Redis Streams), so that a client resumes exactly
    // on any instance; costs one round trip to Redis per publication. Off, or on a bus without
    // a history store: each instance vouches only for what it heard (docs/events.md).
    bool shared_history = true;
    // After its last subscriber here leaves, a channel stays subscribed on the bus this long,
    // so an EventSource that reconnects here (its retry is 3 s) resumes instead of resetting.
    std::chrono::milliseconds linger{30'000};
    // Channels kept here without a local subscriber (for resume and retained events), at
    // most: a publisher writing to endless new channels must not grow memory without bound.
    // Beyond it such a publication still reaches the bus and other instances.
    std::size_t max_idle_channels = 10'000;
    // Channels whose new subscriptions start with an upstream snapshot: "PATTERN=URL"
    // (snapshot.hpp); the first matching pattern wins.
    std::vector<std::string> snapshots;
    // The SSE event name of a snapshot.
    std::string snapshot_event = "snapshot";
    // An upstream slower than this is skipped (logged): the subscription goes on without it.
    std::chrono::milliseconds snapshot_timeout{5'000};
    // Channels whose last event a new subscription starts with (initial state).
    std::vector<std::string> retain;
    // A comment after this much silence: under the 60 s idle timeout of nginx and AWS ALB.
    std::chrono::milliseconds keep_alive{15'000};
    // Channels that may be subscribed (`*`, `?`, `{user}`); empty: any.
    std::vector<std::string> channels;
    // Shared secret publishers send as `Authorization: Bearer <key>`; empty: none.
    std::string publish_key;
    // Publishing open to anyone when neither a key nor JWT is configured (development).
    bool open = false;
    // Bytes queued for one subscriber before it is dropped (the hubs' --send-queue-limit).
    std::size_t queue_limit = 1024 * 1024;
    // StateleSSE.Backplane.Redis compatibility: the ChannelPrefix of its `{prefix}:events` bus
    // channel (StateleSSE's default is "backplane"); empty: off.
    std::string statelesse_prefix;
    statelesse_type_rule statelesse_type = statelesse_type_rule::last_segment;
};

}  // namespace switchboard::events
