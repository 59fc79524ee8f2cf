#include "test_hubs.hpp"

#include "payloads.hpp"

#include <charconv>
#include <chrono>
#include <stdexcept>
#include <string_view>

namespace conformance {

using switchboard::expected;
using switchboard::hub::hub_clients;
using switchboard::hub::hub_context;
using switchboard::hub::hub_definition;
using switchboard::hub::hub_error;
using switchboard::hub::hub_result;
using switchboard::hub::reply;
using switchboard::hub::stream_writer;
using switchboard::hub::upload_stream;

void caller_registry::add(const hub_clients& caller) {
    const std::lock_guard lock(mutex_);
    callers_.insert_or_assign(caller.connection_id(), caller);
}

void caller_registry::remove(const std::string& connection_id) {
    const std::lock_guard lock(mutex_);
    callers_.erase(connection_id);
}

std::optional<hub_clients> caller_registry::find(const std::string& connection_id) const {
    const std::lock_guard lock(mutex_);
    const auto it = callers_.find(connection_id);
    if (it == callers_.end()) {
        return std::nullopt;
    }
    return it->second;
}

namespace {

// The value of cookie `name` in a Cookie request header ("a=1; b=2").
std::optional<std::string> find_cookie(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto end = std::min(header.find(';'), header.size());
        std::string_view pair = header.substr(0, end);
        header.remove_prefix(std::min(end + 1, header.size()));
        while (!pair.empty() && pair.front() == ' ') {
            pair.remove_prefix(1);
        }
        const auto equals = pair.find('=');
        if (equals != std::string_view::npos && pair.substr(0, equals) == name) {
            return std::string(pair.substr(equals + 1));
        }
    }
    return std::nullopt;
}

std::optional<std::string> find_header(const hub_context& context, std::string_view name) {
    if (const auto* value = context.request().find_header(name)) {
        return *value;
    }
    return std::nullopt;
}

// int.Parse(query["numRedirects"]) with .NET's exceptions.
hub_result<int> num_redirects(const hub_context& context) {
    const auto* text = context.request().find_query("numRedirects");
    if (text == nullptr) {
        return hub_error("Value cannot be null. (Parameter 's')", "ArgumentNullException");
    }
    int value = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc{} || ptr != end) {
        return hub_error("The input string '" + *text + "' was not in a correct format.",
                         "FormatException");
    }
    return value;
}

complex_object sample_complex_object() {
    using namespace std::chrono;
    complex_object out;
    out.string = "hello world";
    out.int_array = {1, 2, 3};
    out.byte_array.bytes = {1, 2, 3};
    out.guid = "00010203-0405-0607-0706-050403020100";
    out.date_time = switchboard::protocol::timestamp::from_time_point(
        time_point_cast<nanoseconds>(sys_days{year{2000} / January / 1}));
    return out;
}

}  // namespace

std::shared_ptr<hub_definition> make_test_hub(std::shared_ptr<caller_registry> callers) {
    auto hub = std::make_shared<hub_definition>("TestHub");

    hub->on_connected([callers](hub_context& context) { callers->add(context); });
    hub->on_disconnected(
        [callers](hub_context& context) { callers->remove(context.connection_id()); });

    hub->method("Echo", [](hub_context&, std::string message) { return message; });
    hub->method("GetCallerConnectionId",
                [](hub_context& context) { return context.connection_id(); });
    hub->method("GetNumRedirects", [](hub_context& context) { return num_redirects(context); });
    hub->method("GetActiveTransportName", [](hub_context& context) {
        return std::string(switchboard::transport::transport_name(context.transport()));
    });
    hub->method("GetHeader",
                [](hub_context& context, std::string name) { return find_header(context, name); });
    hub->method("GetContentTypeHeader",
                [](hub_context& context) { return find_header(context, "Content-Type"); });
    hub->method("GetCookie", [](hub_context& context, std::string name) {
        const auto cookies = find_header(context, "Cookie");
        return cookies ? find_cookie(*cookies, name) : std::nullopt;
    });

    hub->method("ThrowException", [](hub_context&, std::string message) -> hub_result<> {
        return hub_error(std::move(message), "InvalidOperationException");
    });

    // A C++ exception rather than a hub error: the server contains it and answers as ASP.NET
    // does for any exception.
    hub->method("ThrowStdException", [](hub_context&, std::string message) -> int {
        throw std::runtime_error(message);
    });

    // Server-to-client calls: the client's handler names match case-insensitively.
    hub->method("InvokeWithString", [](hub_context& context, std::string message) {
        context.caller().send("Message", message);
    });
    hub->method("SendCustomObject", [](hub_context& context, custom_object object) {
        context.caller().send("CustomObject", object);
    });
    hub->method("EchoComplexObject", [](hub_context&, complex_object object) { return object; });
    hub->method("SendComplexObject", [](hub_context&) { return sample_complex_object(); });

    // Server-to-client streams.
    hub->method("Stream", [](hub_context&, stream_writer out) {
        for (const char* item : {"a", "b", "c"}) {
            out.write(item);
        }
        out.complete();
    });
    hub->method("EmptyStream", [](hub_context&, stream_writer out) { out.complete(); });
    // Never yields. The cancel handler owns a copy of the writer, which keeps the stream open
    // until the caller cancels (or leaves); then it tells the caller.
    hub->method("InfiniteStream", [](hub_context& context, stream_writer out) {
        out.on_cancel(
            [out, clients = hub_clients(context)] { clients.caller().send("StreamCanceled"); });
    });
    hub->method("StreamThrowException",
                [](hub_context&, std::string message, stream_writer) -> hub_result<> {
                    return hub_error(std::move(message), "InvalidOperationException");
                });

    // A client result (ASP.NET's Clients.Caller.InvokeAsync<T>): asks the caller's `target`
    // handler with `argument` and answers with what it returned, or fails with its error.
    hub->method("InvokeCaller", [](hub_context& context, std::string target,
                                   boost::json::value argument, reply<boost::json::value> answer) {
        context.invoke_client(context.connection_id(), std::move(target),
                              boost::json::array{std::move(argument)}, std::chrono::seconds(10),
                              [answer](expected<boost::json::value> result) mutable {
                                  if (result) {
                                      answer.ok(std::move(*result));
                                  } else {
                                      answer.fail(hub_error(result.error_message()));
                                  }
                              });
    });

    // Client-to-server stream: the answer comes when the upload ends. An upload that ends
    // with an error fails the invocation with the client's message (a HubException).
    hub->method("StreamingConcat",
                [](hub_context&, upload_stream<std::string> parts, reply<std::string> answer) {
                    auto text = std::make_shared<std::string>();
                    parts.on_item([text](std::string part) { *text += part; });
                    parts.on_end([text, answer](std::optional<std::string> error) mutable {
                        if (error) {
                            answer.fail(hub_error(*error));
                        } else {
                            answer.ok(*text);
                        }
                    });
                });
    return hub;
}

std::shared_ptr<hub_definition> make_authorized_hub() {
    auto hub = std::make_shared<hub_definition>("HubWithAuthorization");
    hub->method("Echo", [](hub_context&, std::string message) { return message; });
    hub->method("GetUserIdentifier", [](hub_context& context) { return context.user_id(); });
    return hub;
}

}  // namespace conformance
