// The C++ API for hub authors: a hub is a name plus methods with typed arguments, and
// connected/disconnected handlers. The built-in hubs are written with it.
#pragma once

#include "core/expected.hpp"
#include "hub/hub_context.hpp"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

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
// "An unexpected error occurred invoking '<M>' on the server. HubException: <message>".
template <class T = void>
using hub_result = expected<T>;

inline error hub_error(std::string message) {
    return make_error(std::move(message));
}

// What running a method produced, before it is turned into a Completion.
struct invocation_outcome {
    enum class status : unsigned char { ok, binding_error, hub_error };
    status result_status = status::ok;
    boost::json::value result;  // null for void methods
    std::string message;        // binding or hub error text
};

using method_invoker =
    std::function<invocation_outcome(hub_context&, const boost::json::array& arguments)>;

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

template <class T>
struct is_expected : std::false_type {};
template <class T>
struct is_expected<expected<T>> : std::true_type {
    using value_type = T;
};

template <class Tuple, std::size_t... I>
bool bind_arguments(const boost::json::array& in, Tuple& out, std::index_sequence<I...>) {
    static_cast<void>(in);  // unused by methods without arguments
    static_cast<void>(out);
    bool ok = true;
    (
        [&] {
            if (!ok) {
                return;
            }
            auto converted = boost::json::try_value_to<std::tuple_element_t<I, Tuple>>(in[I]);
            if (converted) {
                std::get<I>(out) = std::move(*converted);
            } else {
                ok = false;
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
            outcome.message = value.error_message();
        } else if constexpr (!std::is_void_v<typename is_expected<result_type>::value_type>) {
            outcome.result = boost::json::value_from(std::move(*value));
        }
    } else {
        outcome.result = boost::json::value_from(std::forward<R>(value));
    }
    return outcome;
}

template <class F>
method_invoker make_invoker(F f) {
    using traits = method_traits<F>;
    using arguments = typename traits::arguments;
    using result = typename traits::result;
    constexpr std::size_t arity = std::tuple_size_v<arguments>;
    return [f = std::move(f)](hub_context& context,
                              const boost::json::array& in) -> invocation_outcome {
        if (in.size() != arity) {
            return {invocation_outcome::status::binding_error,
                    {},
                    "Invocation provides " + std::to_string(in.size()) +
                        " argument(s) but target expects " + std::to_string(arity) + "."};
        }
        arguments bound{};
        if (!bind_arguments(in, bound, std::make_index_sequence<arity>{})) {
            return {invocation_outcome::status::binding_error,
                    {},
                    "Error binding arguments. Make sure that the types of the provided values "
                    "match the types of the hub method being invoked."};
        }
        if constexpr (std::is_void_v<result>) {
            std::apply([&](auto&&... a) { f(context, std::move(a)...); }, std::move(bound));
            return {};
        } else {
            return to_outcome(std::apply([&](auto&&... a) { return f(context, std::move(a)...); },
                                         std::move(bound)));
        }
    };
}

}  // namespace detail

// Thread safety: built before the server starts, then only read (from every shard).
class hub_definition {
public:
    explicit hub_definition(std::string name) : name_(std::move(name)) {}

    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    // Registers `f(hub_context&, A...) -> R` where each A converts from JSON (boost::json
    // value_to) and R is void, a JSON-convertible value, or hub_result<T>. Method names are
    // matched case-insensitively, as ASP.NET does; overloads are not supported.
    template <class F>
    hub_definition& method(std::string method_name, F f) {
        add_method(std::move(method_name), detail::make_invoker(std::move(f)));
        return *this;
    }

    hub_definition& on_connected(std::function<void(hub_context&)> handler) {
        on_connected_ = std::move(handler);
        return *this;
    }
    hub_definition& on_disconnected(std::function<void(hub_context&)> handler) {
        on_disconnected_ = std::move(handler);
        return *this;
    }

    struct method_entry {
        std::string name;  // as declared
        method_invoker invoke;
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
    void add_method(std::string name, method_invoker invoker);

    std::string name_;
    std::unordered_map<std::string, method_entry> methods_;  // key: lower-case name
    std::function<void(hub_context&)> on_connected_;
    std::function<void(hub_context&)> on_disconnected_;
};

}  // namespace switchboard::hub
