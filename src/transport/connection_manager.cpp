#include "transport/connection_manager.hpp"

#include "core/random.hpp"

#include <vector>

namespace switchboard::transport {

connection_manager::connection_manager(std::chrono::milliseconds pending_timeout)
    : pending_timeout_(pending_timeout) {}

connection_manager::issued connection_manager::issue(int negotiate_version, bool stateful,
                                                     std::string owner, connection_lease lease) {
    issued result;
    result.connection_id = make_random_id();
    result.token = negotiate_version > 0 ? make_random_id() : result.connection_id;
    std::lock_guard lock(mutex_);
    entries_[result.token] =
        entry{result.connection_id, clock::now(),    transport_kind::none, false, stateful, {},
              std::move(owner),     std::move(lease)};
    return result;
}

connection_manager::issued connection_manager::issue_active(transport_kind transport,
                                                            std::string owner,
                                                            connection_lease lease) {
    issued result;
    result.connection_id = make_random_id();
    result.token = result.connection_id;
    std::lock_guard lock(mutex_);
    entries_[result.token] =
        entry{result.connection_id, clock::now(),    transport, true, false, {},
              std::move(owner),     std::move(lease)};
    return result;
}

bool connection_manager::adopt(std::string connection_id, std::string token, std::string owner,
                               connection_lease lease) {
    std::lock_guard lock(mutex_);
    return entries_
        .try_emplace(std::move(token), entry{std::move(connection_id),
                                             clock::now(),
                                             transport_kind::websockets,
                                             true,
                                             true,
                                             {},
                                             std::move(owner),
                                             std::move(lease)})
        .second;
}

connection_manager::claim_result connection_manager::claim(std::string_view token,
                                                           transport_kind transport,
                                                           const std::string* user) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(token));
    if (it == entries_.end()) {
        return {claim_status::unknown, {}, false, {}};
    }
    if (user != nullptr && *user != it->second.owner) {
        return {claim_status::forbidden, {}, false, {}};
    }
    if (it->second.transport != transport_kind::none && it->second.transport != transport) {
        return {claim_status::wrong_transport, {}, false, {}};
    }
    if (it->second.active) {
        if (it->second.stateful && transport == transport_kind::websockets) {
            return {claim_status::resumable, it->second.connection_id, true, it->second.attached};
        }
        return {claim_status::in_use, {}, false, {}};
    }
    it->second.active = true;
    it->second.transport = transport;
    return {claim_status::claimed, it->second.connection_id, it->second.stateful, {}};
}

bool connection_manager::exists(std::string_view token, transport_kind* transport) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(token));
    if (it == entries_.end()) {
        return false;
    }
    if (transport != nullptr) {
        *transport = it->second.transport;
    }
    return true;
}

void connection_manager::attach(std::string_view token, const connection_ptr& connection) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(token));
    if (it != entries_.end()) {
        it->second.attached = connection;
    }
}

connection_manager::located connection_manager::find(std::string_view token) const {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(token));
    if (it == entries_.end()) {
        return {};
    }
    return {true, it->second.transport, it->second.attached, it->second.owner};
}

void connection_manager::remove(std::string_view token) {
    // Released after the unlock: admission_control takes locks of its own.
    connection_lease lease;
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(std::string(token));
    if (it != entries_.end()) {
        lease = std::move(it->second.lease);
        entries_.erase(it);
    }
}

void connection_manager::sweep(clock::time_point now) {
    std::vector<connection_lease> expired;  // released after the unlock, as in remove()
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.active || now - it->second.issued_at <= pending_timeout_) {
            ++it;
            continue;
        }
        expired.push_back(std::move(it->second.lease));
        it = entries_.erase(it);
    }
}

std::size_t connection_manager::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace switchboard::transport
