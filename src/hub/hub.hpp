// The C++ API for hub authors: a hub is a name plus methods with typed arguments, and
// connected/disconnected handlers. The built-in hubs are written with it.
#pragma once

#include "auth/policy.hpp"
#include "core/expected.hpp"
#include "hub/hub_context.hpp"
#include "hub/streams.hpp"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace switchboard::hub {

// A method's answer: a value, or an error the caller sees as
// "An unexpected error occurred invoking '<M>' on the server. HubException: <message>"
// (an error with a type, e.g. "InvalidOperationException", shows it only with detailed errors).
template <class T = void>
using hub_result = expected<T>;

inline error hub_error(std::string message, std::string type = {}) {
    return make_error(std::move(message), std::move(type));
}

// What running a method produced, before it is turned into a Completion.
struct invocation_outcome {
    enum class status : unsigned char { ok, binding_error, hub_error, pending };
    status result_status = status::ok;
    boost::json::value result;  // null for void methods
    error failure;              // binding or hub error
};

// The per-invocation objects a method may take besides its JSON arguments.
struct invocation_resources {
    std::shared_ptr<detail::server_stream_state> stream;         // streaming methods
    std::vector<std::shared_ptr<detail::upload_state>> uploads;  // one per streamIds entry
    std::shared_ptr<detail::reply_state> reply;                  // methods taking reply<T>
};

using method_invoker = std::function<invocation_outcome(
    hub_context&, const boost::json::array& arguments, invocation_resources& resources)>;

namespace detail {

template <class F>
struct method_traits : method_traits<decltype(&std::decay_t<F>::operator())> {};

template <class R, class C, class... A>
struct method_traits<R (C::*)(hub_context&, A...) const> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};
template <class R, class C, class... A>
struct method_traits<R (C::*)(hub_context&, A...)>
    : method_traits<R (C::*)(hub_context&, A...) const> {};
template <class R, class... A>
struct method_traits<R (*)(hub_context&, A...)> {
    using result = R;
    using arguments = std::tuple<std::decay_t<A>...>;
};

// How each parameter is bound: from the JSON arguments, or from the invocation's resources.
enum class parameter_kind : unsigned char { json, stream, upload, reply };

template <class T>
struct kind_of : std::integral_constant<parameter_kind, parameter_kind::json> {};
template <>
struct kind_of<stream_writer> : std::integral_constant<parameter_kind, parameter_kind::stream> {};
template <class T>
struct kind_of<upload_stream<T>> : std::integral_constant<parameter_kind, parameter_kind::upload> {
};
template <class T>
struct kind_of<reply<T>> : std::integral_constant<parameter_kind, parameter_kind::reply> {};

template <class Tuple>
struct parameter_kinds;
template <class... A>
struct parameter_kinds<std::tuple<A...>> {
    static constexpr std::array<parameter_kind, sizeof...(A)> value{kind_of<A>::value...};
};

// How many parameters before position `end` are of `kind`: the index into their source.
template <std::size_t N>
constexpr std::size_t count_before(const std::array<parameter_kind, N>& kinds, std::size_t end,
                                   parameter_kind kind) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < end; ++i) {
        n += kinds[i] == kind ? 1 : 0;
    }
    return n;
}

template <class T>
struct is_expected : std::false_type {};
template <class T>
struct is_expected<expected<T>> : std::true_type {
    using value_type = T;
};

template <class Tuple, std::size_t... I>
bool bind_parameters(const boost::json::array& in, invocation_resources& resources, Tuple& out,
                     std::index_sequence<I...>) {
    constexpr auto kinds = parameter_kinds<Tuple>::value;
    static_cast<void>(in);  // unused by methods without JSON arguments
    static_cast<void>(resources);
    static_cast<void>(kinds);
    bool ok = true;
    (
        [&] {
            using parameter = std::tuple_element_t<I, Tuple>;
            if (!ok) {
                return;
            }
            if constexpr (kinds[I] == parameter_kind::json) {
                constexpr auto index = count_before(kinds, I, parameter_kind::json);
                auto converted = boost::json::try_value_to<parameter>(in[index]);
                if (converted) {
                    std::get<I>(out) = std::move(*converted);
                } else {
                    ok = false;
                }
            } else if constexpr (kinds[I] == parameter_kind::stream) {
                std::get<I>(out) = parameter(resources.stream);
            } else if constexpr (kinds[I] == parameter_kind::upload) {
                constexpr auto index = count_before(kinds, I, parameter_kind::upload);
                std::get<I>(out) = parameter(resources.uploads[index]);
            } else {
                std::get<I>(out) = parameter(resources.reply);
            }
        }(),
        ...);
    return ok;
}

template <class R>
invocation_outcome to_outcome(R&& value) {
    using result_type = std::decay_t<R>;
    invocation_outcome outcome;
    if constexpr (is_expected<result_type>::value) {
        if (!value) {
            outcome.result_status = invocation_outcome::status::hub_error;
            outcome.failure = value.get_error();
        } else if constexpr (!std::is_void_v<typename is_expected<result_type>::value_type>) {
            outcome.result = boost::json::value_from(std::move(*value));
        }
    } else {
        outcome.result = boost::json::value_from(std::forward<R>(value));
    }
    return outcome;
}

}  // namespace detail

// The shape of a registered method, checked against each invocation before binding.
struct method_signature {
    std::size_t arity = 0;    // JSON arguments
    std::size_t uploads = 0;  // upload streams (streamIds)
    bool streaming = false;   // takes a stream_writer: called with StreamInvocation
    bool deferred = false;    // takes a reply<T>: answers after returning
};

namespace detail {

template <class F>
std::pair<method_signature, method_invoker> make_invoker(F f) {
    using traits = method_traits<F>;
    using arguments = typename traits::arguments;
    using result = typename traits::result;
    constexpr auto kinds = parameter_kinds<arguments>::value;
    constexpr std::size_t count = std::tuple_size_v<arguments>;
    const auto counted = [&](parameter_kind kind) { return count_before(kinds, count, kind); };
    method_signature signature{counted(parameter_kind::json), counted(parameter_kind::upload),
                               counted(parameter_kind::stream) > 0,
                               counted(parameter_kind::reply) > 0};
    method_invoker invoker = [f = std::move(f), signature](
                                 hub_context& context, const boost::json::array& in,
                                 invocation_resources& resources) -> invocation_outcome {
        if (in.size() != signature.arity) {
            return {invocation_outcome::status::binding_error,
                    {},
                    make_error("Invocation provides " + std::to_string(in.size()) +
                               " argument(s) but target expects " +
                               std::to_string(signature.arity) + ".")};
        }
        arguments bound{};
        if (!bind_parameters(in, resources, bound, std::make_index_sequence<count>{})) {
            return {invocation_outcome::status::binding_error,
                    {},
                    make_error("Error binding arguments. Make sure that the types of the "
                               "provided values match the types of the hub method being "
                               "invoked.")};
        }
        invocation_outcome outcome;
        if constexpr (std::is_void_v<result>) {
            std::apply([&](auto&&... a) { f(context, std::move(a)...); }, std::move(bound));
        } else {
            outcome = to_outcome(std::apply(
                [&](auto&&... a) { return f(context, std::move(a)...); }, std::move(bound)));
        }
        if (signature.deferred && outcome.result_status == invocation_outcome::status::ok) {
            outcome.result_status = invocation_outcome::status::pending;
        }
        return outcome;
    };
    return {signature, std::move(invoker)};
}

}  // namespace detail

// Thread safety: built before the server starts, then only read (from every shard).
class hub_definition {
public:
    explicit hub_definition(std::string name) : name_(std::move(name)) {}

    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    // The hub's name on the backplane. To share a Redis with ASP.NET Core servers, set it to
    // the .NET hub's full type name ("MyApp.Hubs.ChatHub"); empty means name().
    hub_definition& set_backplane_name(std::string backplane_name) {
        backplane_name_ = std::move(backplane_name);
        return *this;
    }
    [[nodiscard]] const std::string& backplane_name() const noexcept {
        return backplane_name_.empty() ? name_ : backplane_name_;
    }

    // Registers `f(hub_context&, A...) -> R`. Each A converts from a JSON argument
    // (boost::json value_to), except stream_writer (the method streams to the caller),
    // upload_stream<T> (one per streamIds entry) and reply<T> (the answer comes later). R is
    // void, a JSON-convertible value, or hub_result<T>; an error result ends the invocation
    // before any stream or reply. Names match case-insensitively, as in ASP.NET; no overloads.
    // An exception from `f` reaches the caller as "An unexpected error occurred invoking '<M>'
    // on the server." (with its type and what() under detailed errors); from a streaming
    // method, it ends the stream with the streaming error instead.
    template <class F>
    hub_definition& method(std::string method_name, F f) {
        auto [signature, invoker] = detail::make_invoker(std::move(f));
        add_method(std::move(method_name), signature, std::move(invoker));
        return *this;
    }

    // Who may connect to the hub at all; checked on every HTTP request of its endpoint (401
    // without a verified identity, 403 with one that does not qualify). Needs authentication.
    hub_definition& authorize(auth::policy requirements) {
        policy_ = std::move(requirements);
        return *this;
    }
    [[nodiscard]] const auth::policy& policy() const noexcept { return policy_; }
    // Who may invoke one registered method, on top of the hub's policy; others get ASP.NET's
    // "Failed to invoke 'M' because user is unauthorized". Throws std::invalid_argument for a
    // method not registered (a configuration mistake must not silently leave it open).
    hub_definition& authorize(std::string_view method_name, auth::policy requirements);

    // A throwing on_connected closes that connection with an error and no reconnect, and
    // on_disconnected does not run for it; what on_disconnected throws is logged only.
    hub_definition& on_connected(std::function<void(hub_context&)> handler) {
        on_connected_ = std::move(handler);
        return *this;
    }
    hub_definition& on_disconnected(std::function<void(hub_context&)> handler) {
        on_disconnected_ = std::move(handler);
        return *this;
    }
    // A user of this hub came online (its first connection on any instance) or went offline
    // (its last one anywhere closed, or its instance died): once per change cluster-wide, on
    // the instance that saw it, on the control shard. `clients` reaches everyone (its
    // connection id is empty). What it throws is logged only.
    using presence_handler =
        std::function<void(const hub_clients& clients, const presence::user_change& change)>;
    hub_definition& on_presence_change(presence_handler handler) {
        on_presence_change_ = std::move(handler);
        return *this;
    }
    void presence_changed(const hub_clients& clients, const presence::user_change& change) const {
        if (on_presence_change_) {
            on_presence_change_(clients, change);
        }
    }

    struct method_entry {
        std::string name;  // as declared
        method_signature signature;
        method_invoker invoke;
        auth::policy policy;  // empty: anyone connected to the hub
    };
    [[nodiscard]] const method_entry* find_method(std::string_view name) const;
    void connected(hub_context& context) const {
        if (on_connected_) {
            on_connected_(context);
        }
    }
    void disconnected(hub_context& context) const {
        if (on_disconnected_) {
            on_disconnected_(context);
        }
    }

private:
    void add_method(std::string name, method_signature signature, method_invoker invoker);

    std::string name_;
    std::string backplane_name_;
    auth::policy policy_;
    std::unordered_map<std::string, method_entry> methods_;  // key: lower-case name
    std::function<void(hub_context&)> on_connected_;
    std::function<void(hub_context&)> on_disconnected_;
    presence_handler on_presence_change_;
};

}  // namespace switchboard::hub
