// The SignalR hub client: one connection to a hub of Switchboard or ASP.NET Core, over
// WebSockets, Server-Sent Events or long polling, speaking JSON or MessagePack, with typed
// handlers, invocations, streams both ways, client results, keep-alive and reconnection.
//
// Thread model: every handler (on(), on_closed, ..., completion handlers) runs on the
// connection's strand, one at a time. Without an executor the connection runs an io_context on
// a thread of its own; with one, it wraps it in a strand. Every public function may be called
// from any thread. Do not wait on a future of this connection inside one of its handlers: the
// handler holds the strand that would complete it.
//
// Errors: the asynchronous forms (async_*, stream) report them as values (expected<T>); the
// blocking forms (start(), invoke(), send(), stop() returning std::future) throw hub_error from
// get(). The text is the same either way: the server's error for an invocation, or what failed.
//
//     switchboard::client::hub_connection chat{"http://localhost:5000/hubs/chat?user=bot"};
//     chat.on("ReceiveMessage", [](std::string user, std::string text) { ... });
//     chat.start().get();
//     chat.invoke("SendMessage", "hello").get();
//     int sum = chat.invoke<int>("Add", 1, 2).get();
#pragma once

#include "client/hub_connection_options.hpp"
#include "core/expected.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace switchboard::client {

using hub_value = boost::json::value;

// What the blocking forms throw: a failed start, an invocation's error, a lost connection.
class hub_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class connection_state : unsigned char {
    disconnected,
    connecting,
    connected,
    reconnecting,
    disconnecting,
};
std::string_view to_string(connection_state state) noexcept;

namespace detail {
class connection_core;
struct upload_state;

// A handler's outcome as the connection needs it: for a client result, the value to return or
// why there is none.
struct handler_outcome {
    enum class status : unsigned char { no_result, result, binding_error, failed };
    status kind = status::no_result;
    hub_value value;
    std::string message;  // binding_error, failed
};
using invocation_handler = std::function<handler_outcome(const boost::json::array& arguments)>;
}  // namespace detail

// A stream from the client to the server (an argument the hub method takes as a stream, e.g.
// ChannelReader<T> or IAsyncEnumerable<T>). Pass it as an argument of send/invoke/stream, then
// write items and complete it. Copies share the stream.
class upload_stream {
public:
    template <class T>
    void write(const T& item) {
        write_value(boost::json::value_from(item));
    }
    void write_value(hub_value item);
    // Ends the stream; with an error the server sees the upload fail with it. Later writes are
    // dropped.
    void complete(std::optional<std::string> error = std::nullopt);
    [[nodiscard]] const std::string& id() const noexcept;

private:
    friend class hub_connection;
    explicit upload_stream(std::shared_ptr<detail::upload_state> state)
        : state_(std::move(state)) {}
    std::shared_ptr<detail::upload_state> state_;
};

// An invocation's arguments: JSON values, and the ids of the upload streams among them.
struct invocation_arguments {
    boost::json::array values;
    std::vector<std::string> stream_ids;
};

// Converts each argument with boost::json::value_from; upload_streams become stream ids.
template <class... A>
invocation_arguments make_arguments(A&&... arguments) {
    invocation_arguments out;
    (
        [&] {
            if constexpr (std::is_same_v<std::decay_t<A>, upload_stream>) {
                out.stream_ids.push_back(arguments.id());
            } else {
                out.values.push_back(boost::json::value_from(std::forward<A>(arguments)));
            }
        }(),
        ...);
    return out;
}

// A server-to-client stream in progress. cancel() asks the server to stop it; no further item
// or completion is delivered after it.
class stream_subscription {
public:
    stream_subscription() = default;
    void cancel();

private:
    friend class hub_connection;
    stream_subscription(std::weak_ptr<detail::connection_core> core, std::string id)
        : core_(std::move(core)), id_(std::move(id)) {}
    std::weak_ptr<detail::connection_core> core_;
    std::string id_;
};

namespace detail {

template <class F>
struct handler_traits : handler_traits<decltype(&std::decay_t<F>::operator())> {};
template <class R, class C, class... A>
struct handler_traits<R (C::*)(A...) const> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};
template <class R, class C, class... A>
struct handler_traits<R (C::*)(A...)> : handler_traits<R (C::*)(A...) const> {};
template <class R, class... A>
struct handler_traits<R (*)(A...)> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};

template <class Tuple, std::size_t... I>
bool bind_arguments(const boost::json::array& in, Tuple& out, std::index_sequence<I...>) {
    bool ok = true;
    (
        [&] {
            if (ok) {
                auto converted = boost::json::try_value_to<std::tuple_element_t<I, Tuple>>(in[I]);
                if (converted) {
                    std::get<I>(out) = std::move(*converted);
                } else {
                    ok = false;
                }
            }
        }(),
        ...);
    return ok;
}

// Wraps `f(A...) -> R` so it takes JSON arguments: each A converts with value_to. A non-void R
// is the client result the server may ask for. What `f` throws is caught here, at the boundary.
template <class F>
invocation_handler make_invocation_handler(F f) {
    using traits = handler_traits<F>;
    using arguments = typename traits::arguments;
    using result = typename traits::result;
    constexpr std::size_t arity = std::tuple_size_v<arguments>;
    return [f = std::move(f)](const boost::json::array& in) mutable -> handler_outcome {
        arguments bound{};
        if (in.size() != arity || !bind_arguments(in, bound, std::make_index_sequence<arity>{})) {
            return {handler_outcome::status::binding_error,
                    {},
                    "the handler takes " + std::to_string(arity) +
                        " argument(s) of other types; "
                        "got " +
                        std::to_string(in.size())};
        }
        try {
            if constexpr (std::is_void_v<result>) {
                std::apply(f, std::move(bound));
                return {};
            } else {
                return {handler_outcome::status::result,
                        boost::json::value_from(std::apply(f, std::move(bound))),
                        {}};
            }
        } catch (const std::exception& e) {
            return {handler_outcome::status::failed, {}, e.what()};
        } catch (...) {
            return {handler_outcome::status::failed, {}, "unknown exception"};
        }
    };
}

template <class R>
expected<R> convert_result(expected<hub_value> value) {
    if (!value) {
        return value.get_error();
    }
    if constexpr (std::is_void_v<R>) {
        return {};
    } else if constexpr (std::is_same_v<R, hub_value>) {
        return std::move(*value);
    } else {
        auto converted = boost::json::try_value_to<R>(*value);
        if (!converted) {
            return make_error("the result does not convert to the requested type: " +
                              converted.error().message());
        }
        return std::move(*converted);
    }
}

template <class T>
void settle(std::promise<T>& promise, expected<T> outcome) {
    if (!outcome) {
        promise.set_exception(std::make_exception_ptr(hub_error(outcome.error_message())));
    } else if constexpr (std::is_void_v<T>) {
        promise.set_value();
    } else {
        promise.set_value(std::move(*outcome));
    }
}

}  // namespace detail

class hub_connection {
public:
    // `url`: the hub's http(s) or ws(s) URL, with any query the hub needs.
    // Runs on a thread of its own.
    explicit hub_connection(std::string url, hub_connection_options options = {});
    // Runs on `executor` (through a strand): for programs with an io_context of their own.
    hub_connection(boost::asio::any_io_executor executor, std::string url,
                   hub_connection_options options = {});
    // Stops the connection; with a thread of its own, waits for it.
    ~hub_connection();
    hub_connection(const hub_connection&) = delete;
    hub_connection& operator=(const hub_connection&) = delete;

    // Calls `handler(A...)` for every invocation of `target` from the server (names match
    // case-insensitively; several handlers per target run in order). Each A converts from a
    // JSON argument with boost::json::value_to; an invocation whose arguments do not bind is
    // skipped (and answered with an error if the server waits for a result). A handler that
    // returns a value answers a client result (the server's InvokeAsync); what it throws
    // reaches the server as the error.
    template <class F>
    void on(std::string target, F handler) {
        add_handler(std::move(target), detail::make_invocation_handler(std::move(handler)));
    }
    void off(std::string target);

    // `error` is empty when stop() ended the connection.
    void on_closed(std::function<void(std::optional<std::string> error)> handler);
    // The connection was lost and automatic reconnect is trying; sends fail meanwhile.
    void on_reconnecting(std::function<void(std::optional<std::string> error)> handler);
    // A new connection is up (with a new connection id, which is empty after skip-negotiation).
    void on_reconnected(std::function<void(std::optional<std::string> connection_id)> handler);

    // --- Asynchronous forms: Asio completion tokens (a callback, use_future, use_awaitable). ---

    // Negotiates, connects and completes the handshake: void(expected<void>).
    template <class Token>
    auto async_start(Token&& token) {
        return initiate<void>(std::forward<Token>(token),
                              [this](auto done) { do_start(std::move(done)); });
    }
    // Closes the connection (a Close message, then the transport); no reconnect follows.
    // void(expected<void>), always a value.
    template <class Token>
    auto async_stop(Token&& token) {
        return initiate<void>(std::forward<Token>(token),
                              [this](auto done) { do_stop(std::move(done)); });
    }
    // Invokes a hub method and waits for its completion: void(expected<R>), the server's error
    // text on failure. R = void for methods without a result.
    template <class R = hub_value, class Token>
    auto async_invoke(std::string target, invocation_arguments arguments, Token&& token) {
        return initiate<R>(
            std::forward<Token>(token), [this, target = std::move(target),
                                         arguments = std::move(arguments)](auto done) mutable {
                do_invoke(std::move(target), std::move(arguments), std::move(done), true);
            });
    }
    // Sends an invocation without waiting for the method: void(expected<void>) once it was
    // handed to the transport.
    template <class Token>
    auto async_send(std::string target, invocation_arguments arguments, Token&& token) {
        return initiate<void>(
            std::forward<Token>(token), [this, target = std::move(target),
                                         arguments = std::move(arguments)](auto done) mutable {
                do_invoke(std::move(target), std::move(arguments), std::move(done), false);
            });
    }

    // Starts a server-to-client stream: each item converts to T; `on_complete` runs once at the
    // end (the server's error, a lost connection, or success).
    template <class T = hub_value>
    stream_subscription stream(std::string target, invocation_arguments arguments,
                               std::function<void(T)> on_item,
                               std::function<void(expected<void>)> on_complete) {
        auto deliver = [on_item = std::move(on_item)](hub_value item) -> expected<void> {
            auto converted = detail::convert_result<T>(std::move(item));
            if (!converted) {
                return converted.get_error();
            }
            on_item(std::move(*converted));
            return {};
        };
        return do_stream(std::move(target), std::move(arguments), std::move(deliver),
                         std::move(on_complete));
    }

    // A new stream to pass as an argument; ids are unique per connection.
    upload_stream make_upload_stream();

    // --- Blocking forms: futures whose get() throws hub_error. ---

    std::future<void> start();
    std::future<void> stop();
    template <class R = void, class... A>
    std::future<R> invoke(std::string target, A&&... arguments) {
        auto promise = std::make_shared<std::promise<R>>();
        auto future = promise->get_future();
        async_invoke<R>(
            std::move(target), make_arguments(std::forward<A>(arguments)...),
            [promise](expected<R> outcome) { detail::settle(*promise, std::move(outcome)); });
        return future;
    }
    template <class... A>
    std::future<void> send(std::string target, A&&... arguments) {
        auto promise = std::make_shared<std::promise<void>>();
        auto future = promise->get_future();
        async_send(
            std::move(target), make_arguments(std::forward<A>(arguments)...),
            [promise](expected<void> outcome) { detail::settle(*promise, std::move(outcome)); });
        return future;
    }

    [[nodiscard]] connection_state state() const noexcept;
    // The server's id for this connection once connected; empty after skip-negotiation.
    [[nodiscard]] std::optional<std::string> connection_id() const;
    // The transport in use while connected (none otherwise).
    [[nodiscard]] transport_type transport() const noexcept;
    // The strand every handler runs on.
    [[nodiscard]] boost::asio::any_io_executor get_executor() const noexcept;

private:
    using value_handler = std::function<void(expected<hub_value>)>;

    // Completion tokens in, a value_handler for the core out; the completion runs on the
    // handler's associated executor (the strand when it has none).
    template <class R, class Token, class Start>
    auto initiate(Token&& token, Start start) {
        return boost::asio::async_initiate<Token, void(expected<R>)>(
            [this, start = std::move(start)](auto handler) mutable {
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                start(value_handler([shared, strand = get_executor()](expected<hub_value> value) {
                    auto executor = boost::asio::get_associated_executor(*shared, strand);
                    boost::asio::dispatch(
                        executor,
                        [shared, result = detail::convert_result<R>(std::move(value))]() mutable {
                            std::move (*shared)(std::move(result));
                        });
                }));
            },
            token);
    }

    void add_handler(std::string target, detail::invocation_handler handler);
    void do_start(value_handler done);
    void do_stop(value_handler done);
    void do_invoke(std::string target, invocation_arguments arguments, value_handler done,
                   bool wants_result);
    stream_subscription do_stream(std::string target, invocation_arguments arguments,
                                  std::function<expected<void>(hub_value)> on_item,
                                  std::function<void(expected<void>)> on_complete);

    struct own_thread;
    std::unique_ptr<own_thread> thread_;  // declared first: destroyed after core_
    std::shared_ptr<detail::connection_core> core_;
};

}  // namespace switchboard::client
