// Who is online across instances: the store interface beside the backplane. Implementations
// (memory for one instance, Redis for many) are leaves of this folder and never include hub
// headers; the hub layer reports changes, hubs and the REST API query.
#pragma once

#include "core/expected.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::presence {

// One connection as every instance sees it.
struct connection_entry {
    std::string connection_id;
    std::string user_id;   // empty: anonymous (counted in groups, never online as a user)
    std::string instance;  // the holder's incarnation (store_options::instance; set by the store)
    std::uint64_t connected_at_ms = 0;  // Unix ms

    friend bool operator==(const connection_entry&, const connection_entry&) = default;
};

// A page of a query; `next` is empty on the last page, else the cursor of the following one.
// A page may hold fewer entries than asked for (or none) and still have a `next`.
template <class T>
struct page {
    std::vector<T> entries;
    std::string next;
};

template <class T>
using page_callback = std::function<void(expected<page<T>>)>;

// Who came online or went offline, cluster-wide: a user's first live connection anywhere
// opened, or its last one anywhere closed (or was on an instance that stopped refreshing).
struct user_change {
    std::string hub;
    std::string user_id;
    bool online = false;
    // The connection whose open or close made the change; empty when a dead instance's
    // entries were reaped.
    std::string connection_id;
};

struct store_options {
    // Raw bytes before every key (the backplane's channel prefix), so deployments sharing one
    // server stay apart.
    std::string key_prefix;
    // This instance's incarnation: the server name and a random part drawn at startup, so a
    // restarted instance under the same name never revives the entries of its previous life.
    std::string instance;
    // How often this instance proves it is alive; 5 s costs one command per instance per
    // interval and keeps `expiry` short.
    std::chrono::milliseconds heartbeat_interval{5'000};
    // An instance silent this long is dead: its entries leave every query at once and are
    // deleted by the next sweep of a live instance. Three heartbeats ride out a short stall.
    std::chrono::milliseconds expiry{15'000};
};

// Contract: updates are fire-and-forget and pipelined (a connect or disconnect costs O(1)
// commands); entries of an instance that stops refreshing its heartbeat disappear from every
// query within `expiry`, and their users' `user_change` (offline) is reported once by a live
// instance. Thread safety: every method may be called from any shard; callbacks run on the
// store's own shard (the control shard), never inline.
class store {
public:
    using change_handler = std::function<void(const user_change&)>;

    virtual ~store() = default;
    // On the control shard. The handler receives every user_change this instance detects
    // (its own connections' first/last, and the users of instances it reaped).
    virtual void start(change_handler on_change) = 0;
    virtual void stop() = 0;

    virtual void connection_added(std::string_view hub, const connection_entry& entry) = 0;
    virtual void connection_removed(std::string_view hub, std::string_view connection_id,
                                    std::string_view user_id) = 0;
    virtual void group_joined(std::string_view hub, std::string_view connection_id,
                              std::string_view user_id, std::string_view group) = 0;
    virtual void group_left(std::string_view hub, std::string_view connection_id,
                            std::string_view group) = 0;

    // Paged queries; `cursor` is empty for the first page, `limit` bounds the page size.
    virtual void online_users(std::string_view hub, std::string cursor, std::size_t limit,
                              page_callback<std::string> done) = 0;
    virtual void user_connections(std::string_view hub, std::string_view user_id,
                                  std::string cursor, std::size_t limit,
                                  page_callback<connection_entry> done) = 0;
    virtual void group_members(std::string_view hub, std::string_view group, std::string cursor,
                               std::size_t limit, page_callback<connection_entry> done) = 0;
    virtual void is_online(std::string_view hub, std::string_view user_id,
                           std::function<void(expected<bool>)> done) = 0;

    // Shared state for hubs (call sessions, caches): keys with an optional time to live
    // (0: none), on the same backend, scoped by key_prefix. Values are opaque bytes.
    using value_callback = std::function<void(expected<std::optional<std::string>>)>;
    using flag_callback = std::function<void(expected<bool>)>;
    virtual void state_get(std::string key, value_callback done) = 0;
    virtual void state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                           std::function<void(expected<void>)> done) = 0;
    // true: the key existed.
    virtual void state_erase(std::string key, flag_callback done) = 0;
    // Sets `value` only while the key holds `expected` (nullopt: only while it is absent);
    // true: it was set. The building block for state changed from several instances at once.
    virtual void state_compare_and_set(std::string key, std::optional<std::string> expected,
                                       std::string value, std::chrono::milliseconds ttl,
                                       flag_callback done) = 0;

    // False while the store is unreachable; /readyz reports it.
    [[nodiscard]] virtual bool connected() const = 0;
};

}  // namespace switchboard::presence
