// Micro-benchmark of the router's hot path: one broadcast encoded once per protocol and handed
// to every local connection of a shard (DESIGN.md decision 2), with recipients that only count.
#include "core/shard_pool.hpp"
#include "routing/memory/memory_backplane.hpp"
#include "routing/router.hpp"

#include <benchmark/benchmark.h>

#include <boost/asio/post.hpp>
#include <boost/json/array.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::routing {
namespace {

// Takes what a hub connection takes from a delivery, the encoding of its protocol (built by
// the first recipient that asks, shared by the others), and counts instead of queueing it.
class counting_recipient final : public recipient {
public:
    explicit counting_recipient(wire_protocol protocol) : protocol_(protocol) {}

    void deliver(const message_ptr& message) override {
        bytes_ += message->encoded(protocol_)->size();
        ++deliveries_;
    }
    void invoke(const message_ptr&, std::chrono::milliseconds, result_callback) override {}

    [[nodiscard]] std::uint64_t deliveries() const noexcept { return deliveries_; }

private:
    wire_protocol protocol_;
    std::uint64_t deliveries_ = 0;
    std::uint64_t bytes_ = 0;
};

// Runs `f` on the shard's thread and waits: the router is touched only there.
template <class F>
void run_on_shard(shard_pool& pool, F f) {
    std::promise<void> done;
    boost::asio::post(pool.context(0), [&] {
        f();
        done.set_value();
    });
    done.get_future().wait();
}

// Broadcasts per benchmark iteration: one hop to the shard thread and back costs microseconds,
// spread over this many broadcasts it stays under a nanosecond per delivery.
constexpr int broadcasts_per_iteration = 64;

// Arguments: connections on the shard, and the share of them speaking MessagePack in percent
// (0: JSON only, one encoding per broadcast; 50: both protocols, two encodings).
void router_broadcast(benchmark::State& state) {
    const auto connections = static_cast<std::size_t>(state.range(0));
    const auto messagepack_percent = static_cast<std::size_t>(state.range(1));

    shard_pool pool{1};
    memory_backplane bus{std::make_shared<memory_bus>(), pool.context(0).get_executor()};
    router router{pool, bus};
    const hub_id hub = router.add_hub("chat");
    std::vector<std::unique_ptr<counting_recipient>> recipients;
    for (std::size_t i = 0; i < connections; ++i) {
        const bool messagepack = i * 100 < connections * messagepack_percent;
        recipients.push_back(std::make_unique<counting_recipient>(
            messagepack ? wire_protocol::messagepack : wire_protocol::json));
    }
    pool.start();
    run_on_shard(pool, [&] {
        for (std::size_t i = 0; i < connections; ++i) {
            const auto id = std::to_string(i);
            router.add_connection(hub, "connection-" + id, "user-" + id, *recipients[i]);
        }
    });

    const boost::json::array arguments{"alice", std::string(100, 'x')};
    for (auto _ : state) {
        run_on_shard(pool, [&] {
            for (int i = 0; i < broadcasts_per_iteration; ++i) {
                // A new message each time, as each SendMessage is: encoding is part of the cost.
                router.send(hub, audience::all_except(), make_message("ReceiveMessage", arguments));
            }
        });
    }

    std::uint64_t deliveries = 0;
    run_on_shard(pool, [&] {
        for (const auto& recipient : recipients) {
            deliveries += recipient->deliveries();
        }
    });
    pool.stop_and_join();

    const auto expected =
        static_cast<std::uint64_t>(state.iterations()) * broadcasts_per_iteration * connections;
    if (deliveries != expected) {
        state.SkipWithError("a recipient missed a broadcast");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(deliveries));
    // Seconds per delivery and per broadcast (printed with SI prefixes: "12n" is 12 ns).
    const auto per_item = benchmark::Counter::kIsRate | benchmark::Counter::kInvert;
    state.counters["per_delivery"] = benchmark::Counter(static_cast<double>(deliveries), per_item);
    state.counters["per_broadcast"] = benchmark::Counter(
        static_cast<double>(state.iterations() * broadcasts_per_iteration), per_item);
}
// Real time: the work runs on the shard thread while this one waits.
BENCHMARK(router_broadcast)
    ->ArgNames({"connections", "messagepack_pct"})
    ->Args({1000, 0})
    ->Args({1000, 50})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace switchboard::routing

BENCHMARK_MAIN();
