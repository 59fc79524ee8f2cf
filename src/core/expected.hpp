// A minimal expected<T> for the data plane: a value or an error message, never an exception.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace switchboard {

// The error side of expected: a human-readable message that may be sent to a client verbatim,
// and the kind of failure (an exception type name such as "InvalidOperationException" where a
// .NET peer would show one; empty for errors meant for the caller, ASP.NET's HubException).
struct error {
    std::string message;
    std::string type;
};

inline error make_error(std::string message, std::string type = {}) {
    return error{std::move(message), std::move(type)};
}

template <class T>
class expected {
public:
    expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    expected(error err) : state_(std::in_place_index<1>, std::move(err)) {}

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    [[nodiscard]] const error& get_error() const { return std::get<1>(state_); }
    [[nodiscard]] const std::string& error_message() const { return get_error().message; }

private:
    std::variant<T, error> state_;
};

// expected<void>: success or an error message.
template <>
class expected<void> {
public:
    expected() = default;
    expected(error err) : error_(std::move(err)), failed_(true) {}

    [[nodiscard]] bool has_value() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return has_value(); }
    [[nodiscard]] const error& get_error() const { return error_; }
    [[nodiscard]] const std::string& error_message() const { return error_.message; }

private:
    error error_;
    bool failed_ = false;
};

}  // namespace switchboard
