#include "routing/memory/memory_backplane.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

namespace switchboard::routing {

void memory_bus::publish(const memory_backplane* from, const std::string& channel,
                         const shared_buffer& payload) {
    // Delivered under the lock so a member cannot be destroyed (it unsubscribes under the same
    // lock) between lookup and delivery; deliver() only posts, it never runs the handler here.
    std::lock_guard lock(mutex_);
    const auto it = subscribers_.find(channel);
    if (it == subscribers_.end()) {
        return;
    }
    for (const auto& [member, count] : it->second) {
        if (member != from) {
            member->deliver(channel, payload);
        }
    }
}

void memory_bus::add(const std::string& channel, memory_backplane* member) {
    std::lock_guard lock(mutex_);
    auto& members = subscribers_[channel];
    const auto it = std::find_if(members.begin(), members.end(),
                                 [&](const auto& entry) { return entry.first == member; });
    if (it != members.end()) {
        ++it->second;
    } else {
        members.emplace_back(member, 1);
    }
}

void memory_bus::remove(const std::string& channel, memory_backplane* member) {
    std::lock_guard lock(mutex_);
    const auto it = subscribers_.find(channel);
    if (it == subscribers_.end()) {
        return;
    }
    auto& members = it->second;
    const auto member_it = std::find_if(members.begin(), members.end(),
                                        [&](const auto& entry) { return entry.first == member; });
    if (member_it != members.end() && --member_it->second == 0) {
        members.erase(member_it);
        if (it->second.empty()) {
            subscribers_.erase(it);
        }
    }
}

void memory_bus::remove_all(memory_backplane* member) {
    std::lock_guard lock(mutex_);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        std::erase_if(it->second, [&](const auto& entry) { return entry.first == member; });
        it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
    }
}

memory_backplane::memory_backplane(std::shared_ptr<memory_bus> bus,
                                   boost::asio::any_io_executor executor)
    : bus_(std::move(bus)),
      executor_(std::move(executor)),
      handler_(std::make_shared<backplane_handler*>(nullptr)) {}

memory_backplane::~memory_backplane() {
    stop();
    bus_->remove_all(this);
}

void memory_backplane::start(backplane_handler& handler) {
    *handler_ = &handler;
    if (!std::exchange(joined_, true)) {
        bus_->join();
    }
}

void memory_backplane::stop() {
    *handler_ = nullptr;
    if (std::exchange(joined_, false)) {
        bus_->leave();
    }
}

void memory_backplane::subscribe(const std::string& channel) {
    bus_->add(channel, this);
}

void memory_backplane::unsubscribe(const std::string& channel) {
    bus_->remove(channel, this);
}

void memory_backplane::publish(const std::string& channel, shared_buffer payload) {
    bus_->publish(this, channel, payload);
}

void memory_backplane::deliver(const std::string& channel, const shared_buffer& payload) {
    boost::asio::post(executor_, [handler = handler_, channel, payload] {
        if (*handler != nullptr) {
            (*handler)->on_backplane_message(channel, payload);
        }
    });
}

void register_memory_backplane(backplane_factory& factory) {
    factory.add({"memory", "memory", [](std::string_view spec) { return spec == "memory"; },
                 [](std::string_view, const backplane_settings& settings) {
                     made_backplane made;
                     made.bus = std::make_unique<memory_backplane>(
                         std::make_shared<memory_bus>(), settings.control->get_executor());
                     return made;
                 },
                 nullptr});
}

}  // namespace switchboard::routing
