// libFuzzer target for what the bytes of long-polling and SSE POST bodies (and WebSocket frames)
// reach on the server: a hub connection running the chat hub over an in-memory router. The
// input is cut into POSTs at fuzzer-chosen points; the server may answer or close, never crash,
// leak or grow its send queue past the bound.
#include "../unit/support/shard_helpers.hpp"
#include "hub/chat_hub.hpp"
#include "hub/hub_server.hpp"
#include "routing/memory/memory_backplane.hpp"
#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace switchboard;

// Small limits, so that the fuzzer reaches the too-large and slow-consumer paths.
hub_options fuzz_options() {
    hub_options options;
    options.max_message_size = 4096;
    options.send_queue_limit = 64 * 1024;
    return options;
}

// One server for the whole run: building it per input would dominate the time.
struct server {
    server() {
        spdlog::set_level(spdlog::level::off);
        chat = hubs.add_hub(hub::make_chat_hub({}));
        router.start();
        pool.start();
    }

    shard_pool pool{1};
    routing::memory_backplane backplane{std::make_shared<routing::memory_bus>(),
                                        pool.context(0).get_executor()};
    routing::router router{pool, backplane};
    hub_options options = fuzz_options();
    hub::hub_server hubs{pool, router, options};
    routing::hub_id chat = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static server* const instance = new server();  // never destroyed: threads outlive main
    if (size == 0) {
        return 0;
    }
    // The first byte chooses the POST size: a body may end anywhere in a message.
    const std::size_t chunk = 1 + data[0] % 128;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    const bool ran = test::run_on(instance->pool, 0, [&] {
        auto connection = std::make_shared<transport::connection>(
            "fuzz", "token", 0, transport::transport_kind::long_polling,
            instance->options.send_queue_limit, transport::request_info{});
        connection->set_application(instance->hubs.create_connection(instance->chat, connection));
        std::vector<shared_buffer> polled;
        for (std::size_t offset = 0; offset < input.size() && !connection->closing();
             offset += chunk) {
            connection->deliver(input.substr(offset, chunk));
            polled.clear();
            if (connection->take_output(polled) > instance->options.send_queue_limit) {
                std::abort();  // the bound on the send queue did not hold
            }
        }
        connection->on_transport_ended();
    });
    if (!ran || !test::drain(instance->pool)) {
        std::abort();  // a shard stuck in a handler: a hang
    }
    return 0;
}
