#include "loadgen/bench.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace switchboard::loadgen {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t ms = 1'000'000;  // nanoseconds

bench_options two_instances() {
    bench_options options;
    options.urls = {"http://127.0.0.1:1/hubs/chat", "http://127.0.0.1:2/hubs/chat"};
    options.connections = 4;
    options.duration = 2s;
    return options;
}

bench_result result_of(std::uint64_t received, std::uint64_t on_time) {
    bench_result result;
    result.load.connected = 4;
    result.load.sent = 10;
    result.load.expected = 40;
    result.load.received = received;
    result.load.on_time = on_time;
    result.load.send_seconds = 2.0;
    result.load.drain_seconds = 0.5;
    result.load.cpu_seconds = 1.25;
    return result;
}

double number(const boost::json::value& v) {
    return v.to_number<double>();
}

TEST(bench_report, counts_on_time_deliveries_next_to_all_of_them) {
    auto options = two_instances();
    options.deadline = 250ms;
    auto result = result_of(40, 30);
    const auto report = to_json(options, result);
    EXPECT_DOUBLE_EQ(number(report.at("deliveries_per_second")), 20.0);
    EXPECT_DOUBLE_EQ(number(report.at("on_time_deliveries_per_second")), 15.0);
    EXPECT_EQ(number(report.at("on_time")), 30.0);
    EXPECT_DOUBLE_EQ(number(report.at("deadline_ms")), 250.0);
    EXPECT_EQ(number(report.at("lost")), 0.0);
}

TEST(bench_report, reports_cross_instance_latency_with_several_urls_only) {
    auto options = two_instances();
    auto result = result_of(40, 40);
    for (int i = 0; i < 100; ++i) {
        result.load.latency.record(1 * ms);
        result.load.cross_latency.record(3 * ms);
    }
    const auto report = to_json(options, result);
    const auto& cross = report.at("cross_instance").as_object();
    EXPECT_EQ(number(cross.at("received")), 100.0);
    EXPECT_NEAR(number(cross.at("latency_us").at("p99")), 3000.0, 3000.0 / 128);
    const auto row = markdown_row(report);
    EXPECT_NE(row.find("| 3.00 / 3.00 / 3.00 |"), std::string::npos) << row;

    options.urls.resize(1);
    const auto single = to_json(options, result);
    EXPECT_EQ(single.if_contains("cross_instance"), nullptr);
    EXPECT_NE(markdown_row(single).find("| - |"), std::string::npos);
}

TEST(bench_report, markdown_row_matches_the_header) {
    const auto report = to_json(two_instances(), result_of(40, 30));
    const auto columns = [](const std::string& line) {
        return std::count(line.begin(), line.end(), '|');
    };
    const auto header = markdown_header();
    const auto row = markdown_row(report);
    EXPECT_EQ(columns(header.substr(0, header.find('\n'))), columns(row));
    // deliveries/s, then on-time deliveries/s.
    EXPECT_NE(row.find("| 20 | 15 |"), std::string::npos) << row;
}

TEST(bench_report, reports_the_generators_own_cpu) {
    const auto report = to_json(two_instances(), result_of(40, 40));
    const auto& generator = report.at("generator").as_object();
    EXPECT_DOUBLE_EQ(number(generator.at("cpu_seconds")), 1.25);
    EXPECT_DOUBLE_EQ(number(generator.at("cpu_cores")), 0.5);
    EXPECT_DOUBLE_EQ(number(generator.at("cpu_seconds_per_million_deliveries")), 1.25 / 40e-6);
}

}  // namespace
}  // namespace switchboard::loadgen
