// Exceptions thrown by hub code, from every place the server calls it on a shard thread: the
// shard survives, the caller gets ASP.NET's answer, and other calls keep working.
#include "../support/shard_helpers.hpp"
#include "hub/hub_connection.hpp"
#include "hub/hub_server.hpp"
#include "routing/memory/memory_backplane.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::hub {
namespace {

using test::run_on;
namespace json = boost::json;

constexpr char record_separator = '\x1e';

std::shared_ptr<hub_definition> make_faulty_hub(int& disconnects) {
    auto hub = std::make_shared<hub_definition>("faulty");
    hub->on_connected([](hub_context& context) {
        if (context.request().find_query("fail") != nullptr) {
            throw std::runtime_error("no entry");
        }
    });
    hub->on_disconnected([&disconnects](hub_context& context) {
        ++disconnects;
        if (context.request().find_query("fail_leave") != nullptr) {
            throw std::runtime_error("no exit");
        }
    });
    hub->method("Echo", [](hub_context&, std::string text) { return text; });
    hub->method("Boom", [](hub_context&) -> int { throw std::runtime_error("boom"); });
    hub->method("Odd", [](hub_context&) { throw 42; });
    hub->method("Refuse", [](hub_context&) -> hub_result<> { return hub_error("nope"); });
    hub->method("StreamBoom", [](hub_context&, stream_writer out) {
        out.write(1);
        throw std::logic_error("mid-stream");
    });
    // The cancel handler keeps the writer, so the stream stays open until cancelled.
    hub->method("Endless", [](hub_context&, stream_writer out) {
        out.on_cancel([out] { throw std::runtime_error("cancel"); });
    });
    hub->method("Sum", [](hub_context&, upload_stream<int> items, reply<int> answer) {
        auto sum = std::make_shared<int>(0);
        items.on_item([sum](int item) {
            if (item < 0) {
                throw std::runtime_error("negative");
            }
            *sum += item;
        });
        items.on_end([sum, answer](std::optional<std::string>) mutable { answer.ok(*sum); });
    });
    hub->method("AskCaller", [](hub_context& context) {
        context.invoke_client(context.connection_id(), "Question", {}, std::chrono::seconds(30),
                              [](expected<json::value>) { throw std::runtime_error("result"); });
    });
    hub->method("JoinBadly", [](hub_context& context) {
        context.add_to_group(context.connection_id(), "room",
                             [](expected<void>) { throw std::runtime_error("done"); });
    });
    return hub;
}

// One client as the transport sees it: a long-polling connection whose output is parsed.
struct client {
    transport::connection_ptr connection;
    std::vector<json::object> received;
};

class hub_errors_test : public ::testing::Test {
protected:
    hub_errors_test() {
        spdlog::set_level(spdlog::level::off);
        hub_id_ = hubs_.add_hub(make_faulty_hub(disconnects_));
        router_.start();
        pool_.start();
    }
    ~hub_errors_test() override {
        // Every connection ends on its shard while the hubs exist, as in the server.
        EXPECT_TRUE(run_on(pool_, 0, [this] {
            for (const auto& connection : connections_) {
                connection->on_transport_ended();
            }
        }));
        EXPECT_TRUE(test::drain(pool_));
        pool_.stop_and_join();
        spdlog::set_level(spdlog::level::info);
    }

    // Connects and handshakes; the handshake response is not kept in `received`.
    client open(transport::request_info request = {}) {
        client c;
        EXPECT_TRUE(run_on(pool_, 0, [&] {
            c.connection = std::make_shared<transport::connection>(
                std::to_string(++opened_), "token", 0, transport::transport_kind::long_polling,
                options_.send_queue_limit, std::move(request));
            c.connection->set_metrics(&metrics_);
            connections_.push_back(c.connection);
            c.connection->set_application(hubs_.create_connection(hub_id_, c.connection));
            c.connection->deliver(std::string(R"({"protocol":"json","version":1})") +
                                  record_separator);
        }));
        take(c);
        if (!c.received.empty() && c.received.front().empty()) {
            c.received.erase(c.received.begin());
        }
        return c;
    }

    void send(client& c, const json::object& message) {
        ASSERT_TRUE(run_on(
            pool_, 0, [&] { c.connection->deliver(json::serialize(message) + record_separator); }));
        take(c);
    }

    // Moves what the server queued for `c` (after deferred work ran) into c.received.
    void take(client& c) {
        ASSERT_TRUE(test::drain(pool_));
        std::string bytes;
        ASSERT_TRUE(run_on(pool_, 0, [&] {
            std::vector<shared_buffer> out;
            c.connection->take_output(out);
            for (const auto& buffer : out) {
                bytes += *buffer;
            }
        }));
        std::size_t start = 0;
        for (auto end = bytes.find(record_separator); end != std::string::npos;
             start = end + 1, end = bytes.find(record_separator, start)) {
            c.received.push_back(json::parse(bytes.substr(start, end - start)).as_object());
        }
    }

    void end(client& c) {
        ASSERT_TRUE(run_on(pool_, 0, [&] { c.connection->on_transport_ended(); }));
        ASSERT_TRUE(test::drain(pool_));
    }

    static json::object invocation(std::string id, std::string target, json::array arguments = {}) {
        return {{"type", 1}, {"invocationId", id}, {"target", target}, {"arguments", arguments}};
    }

    // The last message `c` received, which must exist.
    static const json::object& last(const client& c) {
        static const json::object none;
        EXPECT_FALSE(c.received.empty());
        return c.received.empty() ? none : c.received.back();
    }

    std::uint64_t errors(metric_hub_error place) { return metrics_.hub_errors_of(place).value(); }

    // Invokes Echo and expects its answer: the connection still works.
    void expect_echo(client& c) {
        send(c, invocation("echo", "Echo", {"still here"}));
        EXPECT_EQ(last(c).at("invocationId"), "echo");
        EXPECT_EQ(last(c).at("result"), "still here");
    }

    hub_options options_;
    switchboard::metrics metrics_;
    shard_pool pool_{1};
    routing::memory_backplane backplane_{std::make_shared<routing::memory_bus>(),
                                         pool_.context(0).get_executor()};
    routing::router router_{pool_, backplane_};
    hub_server hubs_{pool_, router_, options_};
    routing::hub_id hub_id_ = 0;
    int disconnects_ = 0;
    int opened_ = 0;
    std::vector<transport::connection_ptr> connections_;
};

TEST_F(hub_errors_test, throwing_method_answers_with_the_generic_error) {
    auto c = open();
    auto other = open();
    send(c, invocation("1", "Boom"));
    const json::object expected{
        {"type", 3},
        {"invocationId", "1"},
        {"error", "An unexpected error occurred invoking 'Boom' on the server."}};
    EXPECT_EQ(json::serialize(last(c)), json::serialize(expected));
    EXPECT_EQ(errors(metric_hub_error::method), 1u);
    expect_echo(c);
    expect_echo(other);
}

TEST_F(hub_errors_test, detailed_errors_add_the_exception_type_and_message) {
    options_.detailed_errors = true;
    auto c = open();
    send(c, invocation("1", "Boom"));
    EXPECT_EQ(
        last(c).at("error"),
        "An unexpected error occurred invoking 'Boom' on the server. std::runtime_error: boom");
    send(c, invocation("2", "Odd"));
    EXPECT_EQ(last(c).at("error"),
              "An unexpected error occurred invoking 'Odd' on the server. Exception: An exception "
              "of unknown type was thrown.");
    EXPECT_EQ(errors(metric_hub_error::method), 2u);
}

TEST_F(hub_errors_test, hub_errors_keep_their_message) {
    auto c = open();
    send(c, invocation("1", "Refuse"));
    EXPECT_EQ(last(c).at("error"),
              "An unexpected error occurred invoking 'Refuse' on the server. HubException: nope");
    EXPECT_EQ(errors(metric_hub_error::method), 0u);
}

TEST_F(hub_errors_test, a_throw_without_invocation_id_is_contained_silently) {
    auto c = open();
    send(c, {{"type", 1}, {"target", "Boom"}, {"arguments", json::array{}}});
    EXPECT_TRUE(c.received.empty());
    EXPECT_EQ(errors(metric_hub_error::method), 1u);
    expect_echo(c);
}

TEST_F(hub_errors_test, throwing_stream_producer_ends_the_stream_with_the_streaming_error) {
    for (const bool detailed : {false, true}) {
        options_.detailed_errors = detailed;
        auto c = open();
        send(c, {{"type", 4},
                 {"invocationId", "s"},
                 {"target", "StreamBoom"},
                 {"arguments", json::array{}}});
        ASSERT_EQ(c.received.size(), 2u);
        EXPECT_EQ(c.received[0].at("type"), 2);
        EXPECT_EQ(c.received[0].at("item"), 1);
        std::string text = "An error occurred on the server while streaming results.";
        if (detailed) {
            text += " std::logic_error: mid-stream";
        }
        EXPECT_EQ(last(c).at("type"), 3);
        EXPECT_EQ(last(c).at("error"), json::value(text));
        expect_echo(c);
    }
    EXPECT_EQ(errors(metric_hub_error::method), 2u);
}

TEST_F(hub_errors_test, throwing_cancel_handler_ends_the_stream_with_an_error) {
    auto c = open();
    send(c,
         {{"type", 4}, {"invocationId", "s"}, {"target", "Endless"}, {"arguments", json::array{}}});
    EXPECT_TRUE(c.received.empty());
    send(c, {{"type", 5}, {"invocationId", "s"}});
    EXPECT_EQ(last(c).at("invocationId"), "s");
    EXPECT_EQ(last(c).at("error"), "An error occurred on the server while streaming results.");
    EXPECT_EQ(errors(metric_hub_error::stream), 1u);
    expect_echo(c);

    // A cancel handler that throws because its caller left only counts.
    send(c,
         {{"type", 4}, {"invocationId", "t"}, {"target", "Endless"}, {"arguments", json::array{}}});
    end(c);
    EXPECT_EQ(errors(metric_hub_error::stream), 2u);
}

TEST_F(hub_errors_test, throwing_upload_handler_fails_the_invocation) {
    options_.detailed_errors = true;
    auto c = open();
    auto sum = invocation("1", "Sum");
    sum["streamIds"] = json::array{"u"};
    send(c, sum);
    send(c, {{"type", 2}, {"invocationId", "u"}, {"item", 2}});
    EXPECT_TRUE(c.received.empty());
    send(c, {{"type", 2}, {"invocationId", "u"}, {"item", -1}});
    EXPECT_EQ(last(c).at("invocationId"), "1");
    EXPECT_EQ(last(c).at("error"),
              "An unexpected error occurred invoking 'Sum' on the server. std::runtime_error: "
              "negative");
    EXPECT_EQ(errors(metric_hub_error::upload), 1u);
    // The failed upload takes nothing more, and its completion answers nothing twice.
    const auto answers = c.received.size();
    send(c, {{"type", 2}, {"invocationId", "u"}, {"item", 3}});
    send(c, {{"type", 3}, {"invocationId", "u"}});
    EXPECT_EQ(c.received.size(), answers);

    // A healthy upload on the same connection still sums.
    auto again = invocation("2", "Sum");
    again["streamIds"] = json::array{"v"};
    send(c, again);
    send(c, {{"type", 2}, {"invocationId", "v"}, {"item", 5}});
    send(c, {{"type", 3}, {"invocationId", "v"}});
    EXPECT_EQ(last(c).at("invocationId"), "2");
    EXPECT_EQ(last(c).at("result"), 5);
}

TEST_F(hub_errors_test, throwing_client_result_callback_is_contained) {
    auto c = open();
    send(c, invocation("1", "AskCaller"));
    // The server's invocation of Question, then the method's own completion.
    ASSERT_EQ(c.received.size(), 2u);
    const auto question = c.received[0];
    EXPECT_EQ(question.at("target"), "Question");
    send(c, {{"type", 3}, {"invocationId", question.at("invocationId")}, {"result", 42}});
    EXPECT_EQ(errors(metric_hub_error::client_result), 1u);
    expect_echo(c);
}

TEST_F(hub_errors_test, throwing_group_callback_is_contained) {
    auto c = open();
    send(c, invocation("1", "JoinBadly"));
    EXPECT_EQ(last(c).at("invocationId"), "1");
    EXPECT_EQ(errors(metric_hub_error::callback), 1u);
    expect_echo(c);
}

TEST_F(hub_errors_test, throwing_on_connected_closes_that_connection_only) {
    for (const bool detailed : {false, true}) {
        options_.detailed_errors = detailed;
        auto c = open({{{"fail", "1"}}, "127.0.0.1", {}, {}});
        std::string text = "Connection closed with an error.";
        if (detailed) {
            text += " std::runtime_error: no entry";
        }
        // No allowReconnect (false is left out, as ASP.NET writes it): the client must not
        // reconnect into the same failure.
        EXPECT_EQ(json::serialize(last(c)),
                  json::serialize(json::object{{"type", 7}, {"error", text}}));
        // Closing: what the client still sends is ignored.
        const auto count = c.received.size();
        send(c, invocation("1", "Echo", {"x"}));
        EXPECT_EQ(c.received.size(), count);
        end(c);
    }
    EXPECT_EQ(errors(metric_hub_error::connected), 2u);
    // The hub never saw those connections: no on_disconnected for them.
    EXPECT_EQ(disconnects_, 0);
    auto healthy = open();
    expect_echo(healthy);
}

TEST_F(hub_errors_test, throwing_on_disconnected_is_logged_and_swallowed) {
    auto c = open({{{"fail_leave", "1"}}, "127.0.0.1", {}, {}});
    auto other = open();
    end(c);
    EXPECT_EQ(disconnects_, 1);
    EXPECT_EQ(errors(metric_hub_error::disconnected), 1u);
    expect_echo(other);
    std::string text;
    metrics_.render(text);
    EXPECT_NE(text.find("switchboard_hub_errors_total{place=\"disconnected\"} 1\n"),
              std::string::npos);
}

}  // namespace
}  // namespace switchboard::hub
