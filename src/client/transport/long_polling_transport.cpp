// The long polling transport: GETs answered when the server has data (or after its 90 s poll
// timeout), POSTs for what the client sends, DELETE to end.
#include "client/transport/http_transport.hpp"
#include "client/transport/transports.hpp"

#include <chrono>

namespace switchboard::client::detail {

namespace {

namespace http = boost::beast::http;

// The server answers a poll after at most 90 s (LongPollingOptions.PollTimeout); this leaves
// room for a slow network before a silent server counts as gone.
constexpr std::chrono::seconds poll_timeout{120};

class long_polling_transport final : public http_transport {
public:
    long_polling_transport(http_context context, transport_listener& listener)
        : http_transport(std::move(context), listener) {}

    void start(boost::urls::url url, transfer_format format,
               std::function<void(expected<void>)> on_started) override {
        url_ = std::move(url);
        format_ = format;
        on_started_ = std::move(on_started);
        do_poll();
    }

    void stop() override {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        cancel_receive();
        flush_after_stop();
        if (open_ && !finished_) {
            // Best effort: the server disposes the connection at once instead of after its
            // disconnect timeout. A 404 (already gone) is as good as the 202.
            http_request request;
            request.method = http::verb::delete_;
            request.url = url_;
            request.timeout = context_.request_timeout;
            request.body_limit = 64 * 1024;
            send_http_request(context_, std::move(request), [](expected<http_response>) {});
        }
    }

    [[nodiscard]] transport_type type() const noexcept override {
        return transport_type::long_polling;
    }

private:
    void do_poll() {
        http_request request;
        request.url = url_;
        // A cache-buster, as the JS client adds: no proxy may answer a poll from its cache.
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        request.url.params().set("_", std::to_string(now));
        // The first poll is answered at once; later ones are held by the server.
        request.timeout =
            open_ ? std::chrono::milliseconds(poll_timeout) : context_.request_timeout;
        request.body_limit = context_.max_message_size;
        receiving_ = send_http_request(
            context_, std::move(request),
            [self = self_as<long_polling_transport>()](expected<http_response> response) {
                self->on_poll(std::move(response));
            });
    }

    void on_poll(expected<http_response> response) {
        receiving_.reset();
        if (silent()) {
            return;
        }
        if (!open_) {
            if (!response) {
                return start_failed("Long polling connection failed: " + response.error_message());
            }
            if (response->status != 200) {
                return start_failed(describe_status("Long polling connection failed", *response));
            }
            opened();
            if (!deliver(response->body)) {
                return;
            }
            return do_poll();
        }
        if (!response) {
            return finish("Long polling request failed: " + response.error_message());
        }
        if (response->status == 204) {
            return finish(std::nullopt);  // the server ended the connection
        }
        if (response->status != 200) {
            return finish(describe_status("Long polling request failed", *response));
        }
        if (!deliver(response->body)) {
            return;
        }
        do_poll();  // an empty 200 is the server's poll timeout: poll again
    }

    static std::string describe_status(const std::string& what, const http_response& response) {
        std::string message = what + " with status code " + std::to_string(response.status) + " (" +
                              response.reason + ")";
        if (!response.body.empty()) {
            message += ": " + response.body;
        }
        return message + ".";
    }
};

}  // namespace

std::shared_ptr<transport> make_long_polling_transport(http_context context,
                                                       transport_listener& listener) {
    return std::make_shared<long_polling_transport>(std::move(context), listener);
}

}  // namespace switchboard::client::detail
