#include "transport/connection.hpp"

#include "transport/negotiate.hpp"

#include <spdlog/spdlog.h>

namespace switchboard::transport {

std::string_view transport_name(transport_kind kind) {
    switch (kind) {
    case transport_kind::websockets:
        return "WebSockets";
    case transport_kind::server_sent_events:
        return "ServerSentEvents";
    case transport_kind::long_polling:
        return "LongPolling";
    case transport_kind::none:
        break;
    }
    return "None";
}

const std::string* request_info::find_query(std::string_view name) const {
    return find_parameter(query, name);
}

const std::string* request_info::find_header(std::string_view name) const {
    return find_parameter(headers, name);
}

connection::connection(std::string id, std::string token, std::size_t shard,
                       transport_kind transport, std::size_t send_queue_limit, request_info request)
    : id_(std::move(id)),
      token_(std::move(token)),
      shard_(shard),
      transport_(transport),
      send_queue_limit_(send_queue_limit),
      request_(std::move(request)) {}

void connection::set_application(std::shared_ptr<connection_application> application) {
    application_ = std::move(application);
}

void connection::attach_writer(connection_writer* writer) {
    writer_ = writer;
    if (writer_ == nullptr) {
        return;
    }
    if (state_ == state::aborted) {
        writer_->on_abort(abort_code_, abort_reason_);
    } else if (!queue_.empty()) {
        writer_->on_output_ready();
    } else if (state_ == state::closing) {
        writer_->on_close_requested();
    }
}

void connection::own_writer(std::shared_ptr<connection_writer> writer) {
    owned_writer_ = std::move(writer);
    attach_writer(owned_writer_.get());
}

void connection::detach_writer(connection_writer* writer) {
    if (writer_ == writer) {
        writer_ = nullptr;
    }
}

std::string connection::slow_consumer_reason(std::size_t send_queue_limit) {
    return "Send queue limit of " + std::to_string(send_queue_limit) +
           " bytes exceeded (slow consumer).";
}

connection::send_result connection::send(shared_buffer bytes) {
    if (state_ != state::open) {
        return send_result::closed;
    }
    if (queued_bytes_ + bytes->size() > send_queue_limit_) {
        spdlog::warn("connection {} dropped: send queue over {} bytes (slow consumer)", id_,
                     send_queue_limit_);
        if (metrics_ != nullptr) {
            metrics_->slow_consumer_disconnects.add();
        }
        abort(slow_consumer_close_code, slow_consumer_reason(send_queue_limit_));
        return send_result::overflow;
    }
    queued_bytes_ += bytes->size();
    if (metrics_ != nullptr) {
        metrics_->messages_sent.add();
    }
    const bool was_empty = queue_.empty();
    queue_.push_back(std::move(bytes));
    if (was_empty && writer_ != nullptr) {
        writer_->on_output_ready();
    }
    return send_result::queued;
}

void connection::close_after(shared_buffer last_message) {
    if (state_ != state::open) {
        return;
    }
    state_ = state::closing;
    if (last_message) {
        queued_bytes_ += last_message->size();
        queue_.push_back(std::move(last_message));
    }
    if (writer_ != nullptr) {
        if (queue_.size() == 1) {
            writer_->on_output_ready();
        }
        writer_->on_close_requested();
    }
}

void connection::abort(std::uint16_t websocket_code, std::string reason) {
    if (state_ == state::aborted || state_ == state::ended) {
        return;
    }
    state_ = state::aborted;
    queue_.clear();
    queued_bytes_ = 0;
    abort_code_ = websocket_code;
    abort_reason_ = std::move(reason);
    if (writer_ != nullptr) {
        writer_->on_abort(abort_code_, abort_reason_);
    }
    notify_room();
}

void connection::terminate() {
    stateful_ = false;  // a dropped socket must end the connection, not pause it
    if (writer_ != nullptr) {
        return writer_->on_terminate();
    }
    on_transport_ended();
}

void connection::when_queued_below(std::size_t bytes, std::function<void()> then) {
    on_room_ = std::move(then);
    room_below_ = bytes;
    notify_room();
}

void connection::notify_room() {
    // Past open nothing more is sent: the producer hears at once, and never waits forever.
    if (on_room_ && (queued_bytes_ < room_below_ || state_ != state::open)) {
        auto then = std::move(on_room_);
        on_room_ = nullptr;
        then();
    }
}

std::size_t connection::take_output(std::vector<shared_buffer>& out) {
    const std::size_t bytes = queued_bytes_;
    if (metrics_ != nullptr) {
        metrics_->bytes_sent.add(bytes);
    }
    std::move(queue_.begin(), queue_.end(), std::back_inserter(out));
    queue_.clear();
    queued_bytes_ = 0;
    notify_room();
    return bytes;
}

void connection::on_transport_ended() {
    if (state_ == state::ended) {
        return;
    }
    state_ = state::ended;
    writer_ = nullptr;
    auto owned_writer = std::move(owned_writer_);  // released after the application is told
    queue_.clear();
    queued_bytes_ = 0;
    paused_ = false;
    notify_room();  // before on_ended_, which may release this connection
    if (auto application = std::move(application_)) {
        application->on_transport_closed();
    }
    if (auto on_ended = std::move(on_ended_)) {
        on_ended();
    }
}

void connection::on_transport_lost() {
    if (state_ != state::open) {
        return on_transport_ended();
    }
    writer_ = nullptr;
    paused_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    if (application_) {
        application_->on_transport_paused();
    }
    notify_room();
}

bool connection::resume(connection_writer* writer) {
    if (state_ != state::open || !application_) {
        return false;
    }
    if (writer_ != nullptr && writer_ != writer) {
        // A half-open old socket: the client already moved on.
        writer_->on_replaced();
    }
    writer_ = nullptr;
    paused_ = false;
    queue_.clear();
    queued_bytes_ = 0;
    application_->on_transport_resumed();
    attach_writer(writer);
    notify_room();
    return true;
}

}  // namespace switchboard::transport
