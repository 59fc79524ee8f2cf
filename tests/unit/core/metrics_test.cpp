#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace switchboard {
namespace {

TEST(metrics, counter_sums_increments_from_many_threads) {
    counter c;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&c] {
            for (int i = 0; i < 10'000; ++i) {
                c.add();
            }
            c.add(5);
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(c.value(), 8u * 10'005u);
}

TEST(metrics, gauge_goes_up_and_down) {
    gauge g;
    g.add();
    g.add(3);
    g.sub();
    EXPECT_EQ(g.value(), 3);
}

// Each line is a comment (# HELP / # TYPE) or `name{labels} value`, as the format requires.
TEST(metrics, render_is_prometheus_text_format) {
    metrics m;
    m.connections_of(metric_transport::websockets).add(2);
    m.connections_of(metric_transport::long_polling).add();
    m.opened_of(metric_transport::websockets).add(7);
    m.messages_received.add(11);
    m.messages_sent.add(13);
    m.bytes_sent.add(1234);
    m.rejections_of(metric_limit::connections_per_ip).add(3);
    m.rejections_of(metric_limit::messages_per_second).add();
    m.slow_consumer_disconnects.add(4);
    m.hub_errors_of(metric_hub_error::upload).add(6);
    m.backplane_drops = [] { return std::uint64_t{9}; };
    m.backplane_rejected = [] { return std::uint64_t{5}; };
    std::string text;
    m.render(text);

    const auto has_line = [&](const std::string& line) {
        return text.find(line + "\n") != std::string::npos;
    };
    EXPECT_TRUE(has_line("# TYPE switchboard_connections gauge"));
    EXPECT_TRUE(has_line("switchboard_connections{transport=\"websockets\"} 2"));
    EXPECT_TRUE(has_line("switchboard_connections{transport=\"server_sent_events\"} 0"));
    EXPECT_TRUE(has_line("switchboard_connections{transport=\"long_polling\"} 1"));
    EXPECT_TRUE(has_line("# TYPE switchboard_hub_errors_total counter"));
    EXPECT_TRUE(has_line("switchboard_hub_errors_total{place=\"upload\"} 6"));
    EXPECT_TRUE(has_line("switchboard_hub_errors_total{place=\"client_result\"} 0"));
    EXPECT_TRUE(has_line("# TYPE switchboard_connections_opened_total counter"));
    EXPECT_TRUE(has_line("switchboard_connections_opened_total{transport=\"websockets\"} 7"));
    EXPECT_TRUE(has_line("switchboard_messages_received_total 11"));
    EXPECT_TRUE(has_line("switchboard_messages_sent_total 13"));
    EXPECT_TRUE(has_line("switchboard_bytes_sent_total 1234"));
    EXPECT_TRUE(has_line("# TYPE switchboard_limit_rejections_total counter"));
    EXPECT_TRUE(has_line("switchboard_limit_rejections_total{limit=\"connections_per_ip\"} 3"));
    EXPECT_TRUE(has_line("switchboard_limit_rejections_total{limit=\"messages_per_second\"} 1"));
    EXPECT_TRUE(has_line("switchboard_limit_rejections_total{limit=\"connections\"} 0"));
    EXPECT_TRUE(has_line("switchboard_limit_rejections_total{limit=\"groups_per_connection\"} 0"));
    EXPECT_TRUE(has_line("switchboard_slow_consumer_disconnects_total 4"));
    EXPECT_TRUE(has_line("switchboard_backplane_publish_drops_total 9"));
    EXPECT_TRUE(has_line("switchboard_backplane_rejected_messages_total 5"));

    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    std::istringstream lines(text);
    std::string line;
    std::string last_type;
    int samples = 0;
    while (std::getline(lines, line)) {
        ASSERT_FALSE(line.empty());
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            if (line.starts_with("# TYPE ")) {
                last_type = line.substr(7, line.find(' ', 7) - 7);
            }
            continue;
        }
        // Every sample belongs to the family announced just before it.
        EXPECT_TRUE(line.starts_with(last_type)) << line;
        // The process collector's series keep their standard names.
        EXPECT_TRUE(line.starts_with("switchboard_") || line.starts_with("process_")) << line;
        const auto space = line.rfind(' ');
        ASSERT_NE(space, std::string::npos) << line;
        const auto value = line.substr(space + 1);
        EXPECT_FALSE(value.empty());
        EXPECT_EQ(value.find_first_not_of("-0123456789"), std::string::npos) << line;
        ++samples;
    }
    // ... + the six event stream series + the two REST API series + backplane connected + the
    // three process series + hub connections by protocol (2), messages by kind (10),
    // deliveries, backplane published and received, backplane buffered bytes and reconnects,
    // presence online and offline (the presence gauge only when presence is on).
    EXPECT_EQ(samples, 3 + 3 + 3 + 6 + 2 + 8 + 6 + 2 + 1 + 3 + 2 + 10 + 1 + 2 + 2 + 2);
}

TEST(metrics, hub_protocol_and_message_kind_series) {
    metrics m;
    m.hub_connections_of(metric_protocol::messagepack).add(2);
    m.received_of(metric_message_kind::ping).add();
    m.received_of(metric_message_kind::invocation).add(3);
    m.deliveries.add(5);
    m.backplane_published = [] { return std::uint64_t{7}; };
    std::string text;
    m.render(text);
    EXPECT_NE(text.find("switchboard_hub_connections{protocol=\"messagepack\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("switchboard_hub_connections{protocol=\"json\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_messages_received_by_kind_total{kind=\"invocation\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("switchboard_messages_received_by_kind_total{kind=\"ping\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("switchboard_deliveries_total 5\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_backplane_published_total 7\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_backplane_received_total 0\n"), std::string::npos);
}

TEST(metrics, event_stream_series) {
    metrics m;
    m.events_published.add(3);
    m.events_dropped.add();
    m.events_subscribers.add(2);
    std::string text;
    m.render(text);
    EXPECT_NE(text.find("\nswitchboard_events_published_total 3\n"), std::string::npos);
    EXPECT_NE(text.find("\nswitchboard_events_dropped_total 1\n"), std::string::npos);
    EXPECT_NE(
        text.find(
            "\n# TYPE switchboard_events_subscribers gauge\nswitchboard_events_subscribers 2\n"),
        std::string::npos);
    for (const char* name : {"delivered", "resumed", "reset"}) {
        std::string line = "\nswitchboard_events_";
        line += name;
        line += "_total 0\n";
        EXPECT_NE(text.find(line), std::string::npos) << name;
    }
}

TEST(metrics, backplane_drops_are_zero_without_a_source) {
    metrics m;
    std::string text;
    m.render(text);
    EXPECT_NE(text.find("switchboard_backplane_publish_drops_total 0\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_backplane_rejected_messages_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace switchboard
