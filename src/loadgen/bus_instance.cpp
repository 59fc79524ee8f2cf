#include "loadgen/bus_instance.hpp"

#include "loadgen/scenario.hpp"
#include "routing/scaleout/messages.hpp"
#include "routing/serialized_message.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>

namespace switchboard::loadgen {

namespace {

// Where the text (and its timestamp) starts in the payload: right after the user argument of
// the JSON framing.
constexpr std::string_view text_marker = R"("bench",")";
constexpr std::size_t stamp_digits = 20;

}  // namespace

double number_of(const boost::json::value& v) {
    boost::system::error_code ec;
    const auto d = v.to_number<double>(ec);
    return ec ? 0.0 : d;
}

std::string broadcast_payload(std::size_t message_size) {
    std::string text;
    write_payload(steady_ns(), message_size, text);
    const routing::serialized_message message("ReceiveMessage",
                                              boost::json::array{"bench", std::move(text)});
    return routing::scaleout::encode_invocation(message, {});
}

std::size_t broadcast_stamp_offset(std::string_view payload) {
    return payload.find(text_marker) + text_marker.size();
}

void stamp_broadcast(std::string& payload, std::size_t offset, std::uint64_t ns) {
    for (std::size_t i = stamp_digits; i-- > 0; ns /= 10) {
        payload[offset + i] = static_cast<char>('0' + ns % 10);
    }
}

std::uint64_t publish_budget(double rate, std::chrono::nanoseconds elapsed,
                             std::uint64_t sent) noexcept {
    if (rate <= 0) {
        return ~std::uint64_t{0};
    }
    const auto due = static_cast<std::uint64_t>(
        rate * std::chrono::duration<double>(elapsed).count() + 1.0);  // the first one at 0
    return due > sent ? due - sent : 0;
}

bus_instance::bus_instance(const maker& make, const std::string& channel) : bus_(make(context_)) {
    bus_->start(*this);
    bus_->subscribe(channel);
    thread_ = std::thread([this, channel] {
        // A bus whose I/O runs on threads of its own (NATS) leaves the context without work
        // between its posts: without the guard it would stop at the first idle turn.
        auto work = boost::asio::make_work_guard(context_);
        if (run_until(context_, std::chrono::seconds(15), [this] { return bus_->connected(); })) {
            bus_->when_subscribed(channel, [this] { ready_ = true; });
        } else {
            failed_ = true;
        }
        context_.run();
    });
}

bus_instance::~bus_instance() {
    boost::asio::post(context_, [this] {
        bus_->stop();
        context_.stop();
    });
    thread_.join();
}

histogram bus_instance::latency() const {
    std::lock_guard lock(mutex_);
    return latency_;
}

void bus_instance::on_backplane_message(std::string_view, const shared_buffer& payload) {
    const std::string_view bytes(*payload);
    if (const auto at = bytes.find(text_marker); at != std::string_view::npos) {
        if (const auto sent = read_payload(bytes.substr(at + text_marker.size()))) {
            const auto now = steady_ns();
            std::lock_guard lock(mutex_);
            latency_.record(now > *sent ? now - *sent : 0);
        }
    }
    received_.fetch_add(1, std::memory_order_release);
}

}  // namespace switchboard::loadgen
