// Presence for a single instance: the maps in memory, on the control shard. Nothing to expire:
// when the instance stops, so do its connections.
#pragma once

#include "presence/presence_store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <map>
#include <set>
#include <string>

namespace switchboard::presence {

// Thread safety: every call posts to `context` (the control shard), which alone touches the
// maps; no locks. Pages are in key order and the cursor is the last key returned, so a page
// stays correct while entries come and go between calls.
class memory_store final : public store {
public:
    explicit memory_store(boost::asio::io_context& context, std::string instance = "local")
        : context_(context), instance_(std::move(instance)) {}

    void start(change_handler on_change) override;
    void stop() override;

    void connection_added(std::string_view hub, const connection_entry& entry) override;
    void connection_removed(std::string_view hub, std::string_view connection_id,
                            std::string_view user_id) override;
    void group_joined(std::string_view hub, std::string_view connection_id,
                      std::string_view user_id, std::string_view group) override;
    void group_left(std::string_view hub, std::string_view connection_id,
                    std::string_view group) override;

    void online_users(std::string_view hub, std::string cursor, std::size_t limit,
                      page_callback<std::string> done) override;
    void user_connections(std::string_view hub, std::string_view user_id, std::string cursor,
                          std::size_t limit, page_callback<connection_entry> done) override;
    void group_members(std::string_view hub, std::string_view group, std::string cursor,
                       std::size_t limit, page_callback<connection_entry> done) override;
    void is_online(std::string_view hub, std::string_view user_id,
                   std::function<void(expected<bool>)> done) override;

    void state_get(std::string key, value_callback done) override;
    void state_set(std::string key, std::string value, std::chrono::milliseconds ttl,
                   std::function<void(expected<void>)> done) override;
    void state_erase(std::string key, flag_callback done) override;
    void state_compare_and_set(std::string key, std::optional<std::string> expected,
                               std::string value, std::chrono::milliseconds ttl,
                               flag_callback done) override;

    [[nodiscard]] bool connected() const override { return true; }

    // Keys held at most: hub code that keeps inventing keys must not grow memory without end.
    static constexpr std::size_t max_state_keys = 100'000;

private:
    // Lean on purpose (it sits beside every connection): an anonymous connection outside
    // groups costs nothing, a user's one map node; the instance is filled in on reads.
    struct member {
        std::string user_id;
        std::uint64_t connected_at_ms = 0;
    };
    using members = std::map<std::string, member>;  // by connection id
    struct hub_state {
        std::map<std::string, std::map<std::string, std::uint64_t>> users;  // -> id -> since
        std::map<std::string, members> groups;
        std::map<std::string, std::set<std::string>> connection_groups;  // members only
    };
    struct state_entry {
        std::string value;
        std::chrono::steady_clock::time_point expires{};  // default: never
    };
    template <class F>
    void run(F f);
    // The live entry of `key`, dropping it when it expired.
    state_entry* find_state(const std::string& key);
    expected<void> put_state(const std::string& key, std::string value,
                             std::chrono::milliseconds ttl);
    void report(std::string_view hub, const std::string& user, bool online,
                const std::string& connection_id);
    template <class Map, class Entry>
    page<connection_entry> page_of(const Map* all, const std::string& cursor, std::size_t limit,
                                   Entry to_entry) const;

    boost::asio::io_context& context_;
    std::string instance_;
    change_handler on_change_;
    std::map<std::string, hub_state, std::less<>> hubs_;
    std::map<std::string, state_entry> state_;
};

}  // namespace switchboard::presence
