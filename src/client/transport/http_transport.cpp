#include "client/transport/http_transport.hpp"

#include <boost/asio/post.hpp>

namespace switchboard::client::detail {

void http_transport::send(std::string data) {
    if (stopped_ || finished_) {
        return;
    }
    queue_ += data;
    if (open_ && !posting_) {
        do_post();
    }
}

void http_transport::opened() {
    open_ = true;
    auto on_started = std::move(on_started_);
    on_started(expected<void>{});
    if (!silent() && !queue_.empty() && !posting_) {
        do_post();
    }
}

void http_transport::start_failed(std::string message) {
    finished_ = true;
    cancel_receive();
    auto on_started = std::move(on_started_);
    on_started(make_error(std::move(message)));
}

void http_transport::start_failed_later(std::string message) {
    boost::asio::post(context_.executor,
                      [self = self_as<http_transport>(), message = std::move(message)]() mutable {
                          if (!self->stopped_) {
                              self->start_failed(std::move(message));
                          }
                      });
}

void http_transport::finish(std::optional<std::string> error) {
    finished_ = true;
    cancel_receive();
    listener_.on_transport_closed(std::move(error));
}

bool http_transport::deliver(std::string_view data) {
    if (!data.empty()) {
        listener_.on_transport_data(data);
    }
    return !silent();
}

void http_transport::flush_after_stop() {
    if (open_ && !finished_ && !posting_ && !queue_.empty()) {
        do_post();
    }
}

void http_transport::do_post() {
    posting_ = true;
    in_flight_ = std::move(queue_);
    queue_.clear();
    http_request request;
    request.method = boost::beast::http::verb::post;
    request.url = url_;
    request.body = in_flight_;
    // What the JS client sends for a string and for an ArrayBuffer.
    request.content_type = format_ == transfer_format::binary ? "application/octet-stream"
                                                              : "text/plain;charset=UTF-8";
    request.timeout = context_.request_timeout;
    request.body_limit = 64 * 1024;  // a send's answer is empty; an error text is short
    send_http_request(context_, std::move(request),
                      [self = self_as<http_transport>()](expected<http_response> response) {
                          self->on_post(std::move(response));
                      });
}

void http_transport::on_post(expected<http_response> response) {
    posting_ = false;
    in_flight_.clear();
    if (finished_) {
        return;
    }
    if (stopped_) {
        if (response && response->status == 200 && !queue_.empty()) {
            do_post();
        }
        return;
    }
    if (!response) {
        return finish("Sending to the server failed: " + response.error_message());
    }
    if (response->status != 200) {
        std::string message = "Sending to the server failed with status code " +
                              std::to_string(response->status) + " (" + response->reason + ")";
        if (!response->body.empty()) {
            message += ": " + response->body;
        }
        return finish(message + ".");
    }
    if (!queue_.empty()) {
        do_post();
    }
}

}  // namespace switchboard::client::detail
