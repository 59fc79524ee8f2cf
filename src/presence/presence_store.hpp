// Who is online across instances: the store interface beside the backplane. Implementations
// (memory for one instance, Redis, PostgreSQL, NATS KV) are leaves of this folder and never
// include hub headers; the router reports changes, hubs and the REST API query.
#pragma once

#include "core/expected.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::presence {

// One connection as every instance sees it.
struct connection_entry {
    std::string connection_id;
    std::string user_id;
    std::string instance;  // router_options::server_name of the holder
    std::chrono::system_clock::time_point connected_at;
};

// A page of a query; `next` is empty on the last page, else the cursor of the following one.
struct page {
    std::vector<connection_entry> entries;
    std::string next;
};

using page_callback = std::function<void(expected<page>)>;

// Contract: updates are fire-and-forget and may be batched (a connect or disconnect costs O(1)
// commands); entries of an instance that stops refreshing its heartbeat disappear from every
// query within the store's stated expiry. Thread safety: every method may be called from any
// shard; callbacks run on the store's own shard.
class store {
public:
    virtual ~store() = default;
    virtual void start() = 0;
    virtual void stop() = 0;

    virtual void connection_added(std::string_view hub, const connection_entry& entry) = 0;
    virtual void connection_removed(std::string_view hub, std::string_view connection_id) = 0;
    virtual void group_joined(std::string_view hub, std::string_view connection_id,
                              std::string_view group) = 0;
    virtual void group_left(std::string_view hub, std::string_view connection_id,
                            std::string_view group) = 0;

    // Paged queries; `cursor` is empty for the first page, `limit` bounds the page size.
    virtual void user_connections(std::string_view hub, std::string_view user_id,
                                  std::string cursor, std::size_t limit, page_callback done) = 0;
    virtual void group_members(std::string_view hub, std::string_view group, std::string cursor,
                               std::size_t limit, page_callback done) = 0;

    // False while the store is unreachable; /readyz reports it.
    [[nodiscard]] virtual bool connected() const = 0;
};

}  // namespace switchboard::presence
