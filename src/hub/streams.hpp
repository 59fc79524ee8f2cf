// Long-lived parts of an invocation that outlive the method call: a stream to the caller
// (StreamItems then a Completion), streams from the caller (upload streams), and a deferred
// reply. Each ends itself when its last handle is dropped.
#pragma once

#include "core/expected.hpp"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::hub {

class hub_connection;

namespace detail {

struct reply_state;

struct server_stream_state {
    std::weak_ptr<hub_connection> connection;
    std::string invocation_id;
    std::string method;
    bool finished = false;
    bool cancelled = false;
    std::function<void()> on_cancel;

    // A stream whose handles are all gone without complete() ends normally.
    ~server_stream_state();
    void finish(std::optional<error> failure);
    // The caller cancelled or left: runs the cancel handler once; what it threw, if anything.
    std::optional<error> cancel();
};

struct upload_state {
    // Items that arrive before the method set a handler; the bound keeps a client from
    // growing it (ASP.NET buffers 10 items per stream and then stops reading).
    static constexpr std::size_t max_pending = 100;

    std::deque<boost::json::value> pending;
    std::function<void(boost::json::value)> on_item;
    std::function<void(std::optional<std::string>)> on_end;
    bool ended = false;
    bool end_delivered = false;
    std::optional<std::string> end_error;
    // Where a throwing handler is reported, and the answer it fails (methods taking a reply).
    std::weak_ptr<hub_connection> connection;
    std::string method;
    std::weak_ptr<reply_state> reply;

    void push(boost::json::value item);
    // Hands one item to on_item, which must be set.
    void deliver(boost::json::value item);
    void end(std::optional<std::string> error);
    // Tells on_end once every pending item was handed over.
    void deliver_end();
    // A handler threw: the upload takes nothing more and the invocation fails with `failure`.
    void fail(error failure);
};

struct reply_state {
    std::weak_ptr<hub_connection> connection;
    std::optional<std::string> invocation_id;  // absent: a send, nobody waits for the answer
    std::string method;
    std::vector<std::string> upload_ids;
    bool done = false;

    // A reply dropped unanswered becomes an error for the caller rather than silence.
    ~reply_state();
    void finish(std::optional<error> failure, boost::json::value result);
};

}  // namespace detail

// The caller's end of a server-to-client stream: a method taking a stream_writer is a
// streaming method (clients call it with stream(), not invoke()).
// Thread safety: use on the caller's connection shard (hub_context::executor()).
class stream_writer {
public:
    explicit stream_writer(std::shared_ptr<detail::server_stream_state> state = {})
        : state_(std::move(state)) {}

    // False once the stream ended, was cancelled, or the caller left: stop producing.
    bool write(boost::json::value item);
    template <class T>
    bool write_value(T&& item) {
        return write(boost::json::value_from(std::forward<T>(item)));
    }
    void complete() { state_->finish(std::nullopt); }
    // The caller sees "An error occurred on the server while streaming results." (plus the
    // details with detailed errors on).
    void fail(error failure) { state_->finish(std::move(failure)); }
    [[nodiscard]] bool cancelled() const noexcept { return state_->cancelled; }
    [[nodiscard]] bool active() const;
    // Runs once if the caller cancels (CancelInvocation) or leaves.
    void on_cancel(std::function<void()> handler) { state_->on_cancel = std::move(handler); }

private:
    std::shared_ptr<detail::server_stream_state> state_;
};

// A stream the caller uploads (`streamIds`), item by item, until it completes.
template <class T>
class upload_stream {
public:
    explicit upload_stream(std::shared_ptr<detail::upload_state> state = {})
        : state_(std::move(state)) {}

    // Items that do not convert to T end the stream with an error.
    void on_item(std::function<void(T)> handler) {
        std::weak_ptr<detail::upload_state> weak = state_;
        state_->on_item = [handler = std::move(handler), weak](boost::json::value item) {
            auto converted = boost::json::try_value_to<T>(item);
            if (converted) {
                return handler(std::move(*converted));
            }
            if (auto state = weak.lock()) {
                state->end("Error binding stream item.");
            }
        };
        while (!state_->pending.empty() && state_->on_item) {
            auto item = std::move(state_->pending.front());
            state_->pending.pop_front();
            state_->deliver(std::move(item));
        }
        state_->deliver_end();
    }
    // `error` is the caller's error text, or empty when the upload completed normally.
    void on_end(std::function<void(std::optional<std::string> error)> handler) {
        state_->on_end = std::move(handler);
        state_->deliver_end();
    }

private:
    std::shared_ptr<detail::upload_state> state_;
};

// An answer given after the method returned (for example once an upload stream ended).
template <class T = void>
class reply {
public:
    explicit reply(std::shared_ptr<detail::reply_state> state = {}) : state_(std::move(state)) {}

    template <class U = T>
    requires(!std::is_void_v<U>) void ok(U value) {
        state_->finish(std::nullopt, boost::json::value_from(std::move(value)));
    }
    void ok() requires std::is_void_v<T> { state_->finish(std::nullopt, nullptr); }
    void fail(error failure) { state_->finish(std::move(failure), nullptr); }

private:
    std::shared_ptr<detail::reply_state> state_;
};

}  // namespace switchboard::hub
