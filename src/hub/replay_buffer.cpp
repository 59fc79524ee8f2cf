#include "hub/replay_buffer.hpp"

namespace switchboard::hub {

bool replay_buffer::track(const shared_buffer& bytes) {
    if (!enabled_) {
        return true;
    }
    if (!kept_) {
        kept_.emplace();
    }
    bytes_ += bytes->size();
    kept_->emplace_back(++sent_, bytes);
    if (bytes_ <= max_bytes_) {
        return true;
    }
    enabled_ = false;
    kept_.reset();
    bytes_ = 0;
    return false;
}

void replay_buffer::on_ack(std::int64_t sequence_id) {
    while (kept_ && !kept_->empty() && kept_->front().first <= sequence_id) {
        bytes_ -= kept_->front().second->size();
        kept_->pop_front();
    }
}

std::int64_t replay_buffer::first_kept() const noexcept {
    return !kept_ || kept_->empty() ? sent_ + 1 : kept_->front().first;
}

bool replay_buffer::accept() noexcept {
    if (!enabled_) {
        return true;
    }
    const auto id = next_receiving_id_++;
    if (id <= latest_received_id_) {
        return false;  // already processed before the reconnect
    }
    latest_received_id_ = id;
    return true;
}

bool replay_buffer::on_sequence(std::int64_t sequence_id) noexcept {
    if (adopted_) {
        adopted_ = false;
        next_receiving_id_ = sequence_id;
        latest_received_id_ = sequence_id - 1;
        last_acked_id_ = sequence_id - 1;
        return true;
    }
    if (sequence_id > next_receiving_id_) {
        return false;
    }
    next_receiving_id_ = sequence_id;
    return true;
}

std::optional<std::int64_t> replay_buffer::take_ack() noexcept {
    if (!enabled_ || latest_received_id_ <= last_acked_id_) {
        return std::nullopt;
    }
    last_acked_id_ = latest_received_id_;
    return last_acked_id_;
}

}  // namespace switchboard::hub
