#include "api/user_groups.hpp"

#include "api/request.hpp"

#include <algorithm>
#include <charconv>

namespace switchboard::api {

std::string user_group_store::key_of(std::size_t hub, std::string_view user) {
    std::string key = std::to_string(hub);
    key.push_back('\n');  // never in a user id (control characters are refused)
    key.append(user);
    return key;
}

bool user_group_store::add(std::size_t hub, std::string_view user, std::string_view group,
                           std::optional<std::chrono::seconds> ttl, clock::time_point now) {
    const auto expires = now + ttl.value_or(std::chrono::seconds(max_ttl_seconds));
    std::lock_guard lock(mutex_);
    auto& groups = users_[key_of(hub, user)];
    const auto it = std::find_if(groups.begin(), groups.end(),
                                 [&](const membership& m) { return m.group == group; });
    if (it != groups.end()) {
        // A later join sets the new expiry and moves it to the back (the latest joined).
        groups.erase(it);
        --entries_;
    } else if (entries_ >= max_entries_) {
        if (groups.empty()) {
            users_.erase(key_of(hub, user));
        }
        return false;
    }
    groups.push_back(membership{std::string(group), expires, !ttl.has_value()});
    ++entries_;
    if (!ttl) {
        const auto lasting = static_cast<std::size_t>(std::count_if(
            groups.begin(), groups.end(), [](const membership& m) { return m.lasting; }));
        if (lasting > max_lasting_groups_per_user) {
            // The oldest lasting membership goes, as the service keeps only the latest 100.
            groups.erase(std::find_if(groups.begin(), groups.end(),
                                      [](const membership& m) { return m.lasting; }));
            --entries_;
        }
    }
    return true;
}

void user_group_store::remove(std::size_t hub, std::string_view user, std::string_view group) {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(key_of(hub, user));
    if (it == users_.end()) {
        return;
    }
    entries_ -= static_cast<std::size_t>(
        std::erase_if(it->second, [&](const membership& m) { return m.group == group; }));
    if (it->second.empty()) {
        users_.erase(it);
    }
}

void user_group_store::remove_all(std::size_t hub, std::string_view user) {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(key_of(hub, user));
    if (it != users_.end()) {
        entries_ -= it->second.size();
        users_.erase(it);
    }
}

bool user_group_store::contains(std::size_t hub, std::string_view user, std::string_view group,
                                clock::time_point now) const {
    std::lock_guard lock(mutex_);
    const auto it = users_.find(key_of(hub, user));
    if (it == users_.end()) {
        return false;
    }
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const membership& m) { return m.group == group && m.expires > now; });
}

std::vector<std::string> user_group_store::groups_of(std::size_t hub, std::string_view user,
                                                     clock::time_point now) const {
    std::vector<std::string> out;
    std::lock_guard lock(mutex_);
    const auto it = users_.find(key_of(hub, user));
    if (it != users_.end()) {
        for (const auto& m : it->second) {
            if (m.expires > now) {
                out.push_back(m.group);
            }
        }
    }
    return out;
}

std::vector<user_group_store::expired> user_group_store::sweep(clock::time_point now) {
    std::vector<expired> out;
    std::lock_guard lock(mutex_);
    for (auto it = users_.begin(); it != users_.end();) {
        const auto newline = it->first.find('\n');
        std::size_t hub = 0;
        std::from_chars(it->first.data(), it->first.data() + newline, hub);
        std::erase_if(it->second, [&](const membership& m) {
            if (m.expires > now) {
                return false;
            }
            out.push_back(expired{hub, it->first.substr(newline + 1), m.group});
            --entries_;
            return true;
        });
        it = it->second.empty() ? users_.erase(it) : std::next(it);
    }
    return out;
}

std::vector<user_group_store::entry> user_group_store::snapshot(clock::time_point now) const {
    std::vector<entry> out;
    std::lock_guard lock(mutex_);
    out.reserve(entries_);
    for (const auto& [key, groups] : users_) {
        const auto newline = key.find('\n');
        std::size_t hub = 0;
        std::from_chars(key.data(), key.data() + newline, hub);
        for (const auto& m : groups) {
            if (m.expires <= now) {
                continue;
            }
            std::optional<std::chrono::seconds> left;
            if (!m.lasting) {
                // Rounded up: a membership in force is never sent as ttl 0 (current only).
                left = std::chrono::ceil<std::chrono::seconds>(m.expires - now);
            }
            out.push_back(entry{hub, key.substr(newline + 1), m.group, left});
        }
    }
    return out;
}

std::size_t user_group_store::size() const {
    std::lock_guard lock(mutex_);
    return entries_;
}

}  // namespace switchboard::api
