#include "hub/streams.hpp"

#include "hub/guard.hpp"
#include "hub/hub_connection.hpp"

namespace switchboard::hub {

namespace detail {

server_stream_state::~server_stream_state() {
    finish(std::nullopt);
}

void server_stream_state::finish(std::optional<error> failure) {
    if (finished) {
        return;
    }
    finished = true;
    on_cancel = nullptr;
    if (auto owner = connection.lock()) {
        owner->end_stream(*this, std::move(failure));
    }
}

std::optional<error> server_stream_state::cancel() {
    cancelled = true;
    auto handler = std::move(on_cancel);
    if (!handler) {
        return std::nullopt;
    }
    return call_user(handler);
}

void upload_state::push(boost::json::value item) {
    if (ended) {
        return;
    }
    if (on_item && pending.empty()) {
        return deliver(std::move(item));
    }
    if (pending.size() >= max_pending) {
        return end("The upload stream buffer is full: the method does not read it.");
    }
    pending.push_back(std::move(item));
}

void upload_state::end(std::optional<std::string> error) {
    if (ended) {
        return;
    }
    ended = true;
    end_error = std::move(error);
    deliver_end();
}

void upload_state::deliver_end() {
    if (ended && !end_delivered && pending.empty() && on_end) {
        end_delivered = true;
        auto handler = std::move(on_end);
        if (auto failure = call_user([&] { handler(end_error); })) {
            fail(std::move(*failure));
        }
    }
}

void upload_state::deliver(boost::json::value item) {
    if (auto failure = call_user([&] { on_item(std::move(item)); })) {
        fail(std::move(*failure));
    }
}

void upload_state::fail(error failure) {
    // The handlers stay: fail() may run inside one of them, which must not be destroyed
    // mid-call. `ended` alone keeps them from being called again.
    ended = true;
    end_delivered = true;
    pending.clear();
    if (auto owner = connection.lock()) {
        owner->report_user_error(metric_hub_error::upload, method, failure);
    }
    if (auto answer = reply.lock()) {
        answer->finish(std::move(failure), nullptr);
    }
}

reply_state::~reply_state() {
    if (!done) {
        finish(make_error("The method ended without a reply.", "InvalidOperationException"),
               nullptr);
    }
}

void reply_state::finish(std::optional<error> failure, boost::json::value result) {
    if (done) {
        return;
    }
    done = true;
    if (auto owner = connection.lock()) {
        owner->end_invocation(*this, std::move(failure), std::move(result));
    }
}

}  // namespace detail

bool stream_writer::write(boost::json::value item) {
    if (!active()) {
        return false;
    }
    auto owner = state_->connection.lock();
    owner->send_stream_item(state_->invocation_id, std::move(item));
    return true;
}

bool stream_writer::active() const {
    if (!state_ || state_->finished || state_->cancelled) {
        return false;
    }
    const auto owner = state_->connection.lock();
    return owner && owner->active();
}

}  // namespace switchboard::hub
