// The table of connection tokens issued by negotiate: the only state shared by all shards.
#pragma once

#include "transport/admission.hpp"
#include "transport/connection.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace switchboard::transport {

// Connect requests for one connection may arrive on any shard, so tokens live in one table.
// It is touched at negotiate, connect and disconnect (never per message), under a mutex that
// is never held across I/O or a callback.
class connection_manager {
public:
    using clock = std::chrono::steady_clock;

    struct issued {
        std::string connection_id;
        std::string token;
    };
    // forbidden: the token was issued to another user than the one claiming it.
    enum class claim_status { claimed, unknown, in_use, wrong_transport, resumable, forbidden };
    struct claim_result {
        claim_status status;
        std::string connection_id;
        bool stateful = false;
        std::weak_ptr<transport::connection> target;  // for resumable claims
    };

    // `pending_timeout`: a token not used by a transport within this time is forgotten.
    explicit connection_manager(std::chrono::milliseconds pending_timeout);

    // Issues a new connection id and token (negotiate). Version 0 clients use the id as token.
    // `stateful`: the client negotiated stateful reconnect (a WebSocket may come back).
    // `owner`: the authenticated user who negotiated (empty without authentication); later
    // requests with the token must come from the same user. `lease` (admission_control) is
    // kept until the token expires unused or its connection ends.
    issued issue(int negotiate_version, bool stateful = false, std::string owner = {},
                 connection_lease lease = {});
    // Registers a connection created without negotiate (WebSockets with skipNegotiation).
    issued issue_active(transport_kind transport, std::string owner = {},
                        connection_lease lease = {});
    // Registers a stateful WebSocket connection another instance held (durable mode), under its
    // old id and token, active. False when the token is known here already.
    bool adopt(std::string connection_id, std::string token, std::string owner,
               connection_lease lease = {});
    // A transport connects with `token`: the first claim activates it. With `user` set, a token
    // owned by another user is refused as forbidden and stays unclaimed, so that the rightful
    // client can still connect with it.
    claim_result claim(std::string_view token, transport_kind transport,
                       const std::string* user = nullptr);
    // What transport an active connection uses (none when unknown or not yet connected).
    [[nodiscard]] bool exists(std::string_view token, transport_kind* transport) const;
    // Records where a claimed connection lives, for requests that arrive on other shards
    // (SSE and long-polling POSTs, later polls, DELETE).
    void attach(std::string_view token, const connection_ptr& connection);
    struct located {
        bool found = false;
        transport_kind transport = transport_kind::none;
        std::weak_ptr<transport::connection> target;  // lock(); use only on its shard()
        std::string owner;                            // as given to issue()
    };
    [[nodiscard]] located find(std::string_view token) const;
    // The connection is gone; its token no longer resolves.
    void remove(std::string_view token);
    // Forgets negotiated tokens that no transport claimed in time.
    void sweep(clock::time_point now);

    [[nodiscard]] std::size_t size() const;

private:
    struct entry {
        std::string connection_id;
        clock::time_point issued_at;
        transport_kind transport = transport_kind::none;
        bool active = false;
        bool stateful = false;
        std::weak_ptr<connection> attached;
        std::string owner;
        connection_lease lease;
    };

    std::chrono::milliseconds pending_timeout_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
};

}  // namespace switchboard::transport
