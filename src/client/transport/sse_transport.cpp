// The Server-Sent Events transport: one streamed GET for what the server sends, POSTs for the
// rest.
#include "client/transport/http_transport.hpp"
#include "client/transport/sse_parser.hpp"
#include "client/transport/transports.hpp"

#include <vector>

namespace switchboard::client::detail {

namespace {

class sse_transport final : public http_transport {
public:
    sse_transport(http_context context, transport_listener& listener)
        : http_transport(std::move(context), listener), parser_(context_.max_message_size) {}

    void start(boost::urls::url url, transfer_format format,
               std::function<void(expected<void>)> on_started) override {
        url_ = std::move(url);
        format_ = format;
        on_started_ = std::move(on_started);
        if (format == transfer_format::binary) {
            // ASP.NET Core SignalR never base64-wraps binary data into events.
            return start_failed_later(
                "The Server-Sent Events transport does not support the 'Binary' transfer format.");
        }
        http_request request;
        request.url = url_;
        request.headers = {{"Accept", "text/event-stream"}, {"Cache-Control", "no-cache"}};
        request.timeout = context_.request_timeout;  // up to the response head
        auto self = self_as<sse_transport>();
        receiving_ = open_http_stream(
            context_, std::move(request),
            http_stream_handlers{
                [self](const http_response& head) { return self->on_head(head); },
                [self](std::string_view bytes) { return self->on_body(bytes); },
                [self](std::optional<std::string> error) { self->on_end(std::move(error)); }});
    }

    void stop() override {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        cancel_receive();
        flush_after_stop();
    }

    [[nodiscard]] transport_type type() const noexcept override {
        return transport_type::server_sent_events;
    }

private:
    bool on_head(const http_response& head) {
        if (silent()) {
            return false;
        }
        if (head.status != 200) {
            start_failed("Server-Sent Events connection failed with status code " +
                         std::to_string(head.status) + " (" + head.reason + ").");
            return false;
        }
        opened();
        return !silent();
    }

    bool on_body(std::string_view bytes) {
        if (silent()) {
            return false;
        }
        events_.clear();
        auto error = parser_.feed(bytes, events_);
        for (const auto& data : events_) {
            if (!deliver(data)) {
                return false;
            }
        }
        if (error) {
            finish(std::move(error));
            return false;
        }
        return true;
    }

    void on_end(std::optional<std::string> error) {
        if (silent()) {
            return;
        }
        receiving_.reset();
        if (!open_) {
            return start_failed("Server-Sent Events connection failed: " +
                                error.value_or("no response"));
        }
        if (error) {
            return finish("Server-Sent Events connection lost: " + *error);
        }
        finish(std::nullopt);  // the server completed the stream: the connection ended
    }

    sse_parser parser_;
    std::vector<std::string> events_;  // one read's events, the vector reused
};

}  // namespace

std::shared_ptr<transport> make_sse_transport(http_context context, transport_listener& listener) {
    return std::make_shared<sse_transport>(std::move(context), listener);
}

}  // namespace switchboard::client::detail
