// A worker built on Switchboard's C++ client: it connects to the chat hub, joins a group, posts
// to it and sees its own message come back, consumes a stream, and leaves. Blocking calls
// (futures) throughout, as a program without an event loop of its own would write it.
//
//   switchboard-example-worker [hub URL]   (default http://localhost:5000/hubs/chat?user=worker)
#include "client/hub_connection.hpp"

#include <chrono>
#include <cstdio>
#include <future>
#include <string>

namespace client = switchboard::client;

int main(int argc, char** argv) {
    const std::string url = argc > 1 ? argv[1] : "http://localhost:5000/hubs/chat?user=worker";

    client::hub_connection_options options;
    // A worker rides out a server restart: 0, 2, 10 and 30 s, like the official clients.
    options.automatic_reconnect = client::default_reconnect_policy();
    client::hub_connection hub(url, options);

    // Handlers run on the connection's thread; the promise hands the news to main.
    std::promise<void> echoed;
    hub.on("ReceiveGroupMessage",
           [&echoed, done = false](std::string group, std::string user, std::string text) mutable {
               std::printf("[%s] %s: %s\n", group.c_str(), user.c_str(), text.c_str());
               if (!done) {
                   done = true;
                   echoed.set_value();
               }
           });
    hub.on_reconnecting([](std::optional<std::string> why) {
        std::printf("reconnecting: %s\n", why.value_or("").c_str());
    });

    try {
        hub.start().get();
        std::printf("connected as %s\n", hub.connection_id().value_or("?").c_str());

        hub.invoke("JoinGroup", "workers").get();
        hub.invoke("SendToGroup", "workers", "job 42 done").get();
        if (echoed.get_future().wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            std::fprintf(stderr, "worker: the group message did not come back\n");
            return 1;
        }

        // A server-to-client stream: items as they come, then the end (or the server's error).
        int sum = 0;
        std::promise<switchboard::expected<void>> ended;
        hub.stream<int>(
            "Counter", client::make_arguments(5),
            [&sum](int item) {
                std::printf("item %d\n", item);
                sum += item;
            },
            [&ended](switchboard::expected<void> outcome) { ended.set_value(std::move(outcome)); });
        if (auto outcome = ended.get_future().get(); !outcome) {
            throw client::hub_error(outcome.error_message());
        }
        std::printf("stream done, sum %d\n", sum);

        hub.stop().get();
    } catch (const client::hub_error& e) {
        std::fprintf(stderr, "worker: %s\n", e.what());
        return 1;
    }
    return 0;
}
