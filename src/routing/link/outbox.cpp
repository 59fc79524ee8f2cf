#include "routing/link/outbox.hpp"

namespace switchboard::routing::link {

void outbox::append_body(const shared_buffer& body) {
    if (body->size() <= inline_body_limit) {
        bytes_.append(*body);
    } else {
        bodies_.emplace_back(bytes_.size(), body);
        body_bytes_ += body->size();
    }
}

void outbox::buffers(std::vector<boost::asio::const_buffer>& out) const {
    out.clear();
    std::size_t from = 0;
    for (const auto& [offset, body] : bodies_) {
        out.emplace_back(bytes_.data() + from, offset - from);
        out.emplace_back(boost::asio::buffer(*body));
        from = offset;
    }
    out.emplace_back(bytes_.data() + from, bytes_.size() - from);
}

void outbox::clear() noexcept {
    bytes_.clear();
    bodies_.clear();
    body_bytes_ = commands_ = publishes_ = 0;
}

void outbox::clear_and_trim() {
    clear();
    if (bytes_.capacity() > retained_capacity) {
        // Not `bytes_ = std::string()`: libstdc++ moves an empty (short) string into the
        // existing buffer and keeps its capacity.
        std::string().swap(bytes_);
    }
}

}  // namespace switchboard::routing::link
