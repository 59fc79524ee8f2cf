// What Server-Sent Events and long polling share: the client-to-server half, POSTs of the
// queued bytes one at a time, and the once-only end of a started transport.
#pragma once

#include "client/transport/http_request.hpp"
#include "client/transport/transport.hpp"

#include <functional>
#include <optional>
#include <string>

namespace switchboard::client::detail {

class http_transport : public transport {
public:
    void send(std::string data) override;
    [[nodiscard]] std::size_t buffered_bytes() const noexcept override {
        return queue_.size() + in_flight_.size();
    }

protected:
    http_transport(http_context context, transport_listener& listener)
        : context_(std::move(context)), listener_(listener) {}

    template <class T>
    std::shared_ptr<T> self_as() {
        return std::static_pointer_cast<T>(shared_from_this());
    }

    // Start succeeded: on_started runs, then queued sends leave.
    void opened();
    void start_failed(std::string message);
    // A failure found in start() itself, reported from the executor rather than from start().
    void start_failed_later(std::string message);
    // The one on_transport_closed of a started transport; closes the receiving half first.
    void finish(std::optional<std::string> error);
    // Hands bytes from the server on; false when the listener stopped or closed the transport.
    bool deliver(std::string_view data);
    // After stop(): what send() accepted still goes out (the hub's close message is usually the
    // last of it), silently.
    void flush_after_stop();
    [[nodiscard]] bool silent() const noexcept { return stopped_ || finished_; }

    // Ends the receiving half: the event stream or the pending poll.
    void cancel_receive() {
        if (receiving_) {
            // The operation and its handlers (which hold this transport) go once it completes.
            receiving_->cancel();
            receiving_.reset();
        }
    }

    http_context context_;
    transport_listener& listener_;
    boost::urls::url url_;
    transfer_format format_ = transfer_format::text;
    std::function<void(expected<void>)> on_started_;
    bool open_ = false;      // start succeeded
    bool finished_ = false;  // failed to start, or closed: the end has been reported
    bool stopped_ = false;   // stop() was called: silence
    std::shared_ptr<http_operation> receiving_;  // the event stream or the pending poll

private:
    void do_post();
    void on_post(expected<http_response> response);

    std::string queue_;      // sends waiting for the POST in flight
    std::string in_flight_;  // the body of the POST in flight
    bool posting_ = false;
};

}  // namespace switchboard::client::detail
