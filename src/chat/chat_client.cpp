#include "chat/chat_client.hpp"

#include "chat/command.hpp"
#include "chat/event_format.hpp"
#include "chat/event_queue.hpp"
#include "chat/terminal.hpp"
#include "client/hub_connection.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace switchboard::chat {

namespace {

// Events waiting for the console. A thousand lines is several screens: a burst beyond that is
// unreadable as it scrolls by anyway, and the bound keeps a flood from growing memory.
constexpr std::size_t queue_capacity = 1024;
// Connections /who remembers. A chat with more is beyond what a list on a console serves, and
// the bound keeps a stream of UserConnected events from growing memory.
constexpr std::size_t max_tracked_connections = 10'000;
// How long /quit waits for the Close message to go out before the connection is dropped.
constexpr std::chrono::seconds stop_timeout{5};

using kind = chat_event::kind;

class chat_session {
public:
    chat_session(const chat_options& options, std::string url, bool interactive)
        : options_(options),
          url_(std::move(url)),
          interactive_(interactive),
          color_(options.color && interactive && ::isatty(STDOUT_FILENO) != 0),
          connection_(url_, connection_options(options)) {
        register_handlers();
    }

    int run() {
        try {
            connection_.start().get();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "chat: could not connect to %s: %s\n", url_.c_str(), e.what());
            return exit_start_failed;
        }
        terminal console(interactive_, options_.user.empty() ? "> " : options_.user + "> ");
        console_ = &console;
        const int status = loop();
        console_ = nullptr;
        return status;
    }

private:
    static client::hub_connection_options connection_options(const chat_options& options) {
        client::hub_connection_options out;
        out.transports = options.transports;
        out.protocol = options.protocol;
        out.verify_certificate = options.verify_certificate;
        out.automatic_reconnect = client::reconnect_delays(options.reconnect_delays);
        if (!options.token.empty()) {
            out.access_token_provider = [token = options.token] { return token; };
        }
        return out;
    }

    // Handlers run on the connection's thread: they only queue.
    void register_handlers() {
        auto& c = connection_;
        c.on("ReceiveMessage", [this](std::string user, std::string text) {
            queue_.push({kind::message, std::move(user), {}, std::move(text)});
        });
        c.on("ReceiveDirectMessage", [this](std::string from, std::string text) {
            queue_.push({kind::direct_message, std::move(from), {}, std::move(text)});
        });
        c.on("ReceiveGroupMessage", [this](std::string group, std::string user, std::string text) {
            queue_.push({kind::group_message, std::move(user), std::move(group), std::move(text)});
        });
        c.on("UserJoinedGroup", [this](std::string user, std::string group) {
            queue_.push({kind::joined_group, std::move(user), std::move(group), {}});
        });
        c.on("UserLeftGroup", [this](std::string user, std::string group) {
            queue_.push({kind::left_group, std::move(user), std::move(group), {}});
        });
        // The connection id travels in `text`: /who counts connections, not users.
        c.on("UserConnected", [this](std::string user, std::string connection_id) {
            queue_.push({kind::user_connected, std::move(user), {}, std::move(connection_id)});
        });
        c.on("UserDisconnected", [this](std::string user, std::string connection_id) {
            queue_.push({kind::user_disconnected, std::move(user), {}, std::move(connection_id)});
        });
        c.on_reconnecting([this](std::optional<std::string> error) {
            queue_.push({kind::reconnecting, {}, {}, error.value_or("")});
        });
        c.on_reconnected([this](std::optional<std::string>) {
            queue_.push({kind::reconnected, {}, {}, {}});
        });
        c.on_closed([this](std::optional<std::string> error) {
            queue_.close(error.value_or("the server closed the connection"));
        });
    }

    int loop() {
        show({kind::notice,
              {},
              {},
              "connected to " + url_ + " over " +
                  std::string(client::transport_name(connection_.transport())) +
                  (interactive_ ? " (/help lists the commands)" : "")});
        bool input_ended = false;
        for (;;) {
            auto input = console_->wait(queue_.fd());
            if (auto closed = drain()) {
                show({kind::disconnected, {}, {}, *closed});
                return exit_closed;
            }
            for (const auto& line : input.lines) {
                if (!execute(line)) {
                    return stop();
                }
            }
            input_ended = input_ended || input.end;
            // Piped input: whatever was sent has its answer (or error) before we leave.
            if (input_ended && pending_.load() == 0) {
                return stop();
            }
        }
    }

    int stop() {
        auto stopped = connection_.stop();
        stopped.wait_for(stop_timeout);
        // What arrived meanwhile (answers to the last commands) is still worth showing.
        for (const auto& event : queue_.take().events) {
            show(event);
        }
        return exit_ok;
    }

    // Shows the queued events; returns the reason once the connection is closed for good.
    std::optional<std::string> drain() {
        auto batch = queue_.take();
        for (auto& event : batch.events) {
            track(event);
            show(event);
        }
        if (batch.dropped > 0) {
            // Appended, not "(" + ...: GCC 12 warns falsely (-Wrestrict) on that concatenation.
            std::string text = "(";
            text.append(std::to_string(batch.dropped))
                .append(" events dropped: the console fell behind)");
            show({kind::notice, {}, {}, std::move(text)});
        }
        return batch.closed;
    }

    void show(const chat_event& event) { console_->print(format_event(event, color_)); }

    void track(const chat_event& event) {
        if (event.type == kind::user_connected) {
            if (tracked_ < max_tracked_connections && seen_[event.user].insert(event.text).second) {
                ++tracked_;
            }
        } else if (event.type == kind::user_disconnected) {
            const auto user = seen_.find(event.user);
            if (user != seen_.end() && user->second.erase(event.text) > 0) {
                --tracked_;
                if (user->second.empty()) {
                    seen_.erase(user);
                }
            }
        }
    }

    // Runs one typed line; false for /quit.
    bool execute(const std::string& line) {
        auto parsed = parse_command(line);
        if (!parsed) {
            show({kind::error, {}, {}, parsed.error_message()});
            return true;
        }
        auto& c = *parsed;
        switch (c.type) {
        case command::kind::none:
            break;
        case command::kind::say:
            invoke("SendMessage", client::make_arguments(c.text));
            break;
        case command::kind::join:
            invoke("JoinGroup", client::make_arguments(c.target));
            break;
        case command::kind::leave:
            invoke("LeaveGroup", client::make_arguments(c.target));
            break;
        case command::kind::group:
            invoke("SendToGroup", client::make_arguments(c.target, c.text));
            break;
        case command::kind::dm:
            invoke("SendToUser", client::make_arguments(c.target, c.text));
            break;
        case command::kind::help: {
            std::string_view text = help_text();
            while (!text.empty()) {
                const auto end = text.find('\n');
                show({kind::notice, {}, {}, std::string(text.substr(0, end))});
                text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
            }
            break;
        }
        case command::kind::who:
            show({kind::notice, {}, {}, who()});
            break;
        case command::kind::quit:
            return false;
        }
        return true;
    }

    std::string who() const {
        std::string out =
            "seen connecting since this client started (the server has no presence list yet): ";
        if (seen_.empty()) {
            return out + "no one";
        }
        bool first = true;
        for (const auto& [user, connections] : seen_) {
            out.append(first ? "" : ", ").append(user);
            first = false;
            if (connections.size() > 1) {
                out.append(" (" + std::to_string(connections.size()) + " connections)");
            }
        }
        if (tracked_ >= max_tracked_connections) {
            out.append(", … (list full)");
        }
        return out;
    }

    // Asynchronous: the input loop never waits on the network. The server's error, if any,
    // comes back as an event.
    void invoke(std::string method, client::invocation_arguments arguments) {
        ++pending_;
        connection_.async_invoke<void>(
            std::move(method), std::move(arguments), [this](expected<void> outcome) {
                if (!outcome) {
                    queue_.push({kind::error,
                                 {},
                                 {},
                                 std::string(hub_error_text(outcome.error_message()))});
                }
                --pending_;
                queue_.notify();
            });
    }

    const chat_options& options_;
    std::string url_;
    bool interactive_;
    bool color_;
    // Before the connection: its handlers use the queue until its destructor joined its thread.
    event_queue queue_{queue_capacity};
    std::atomic<std::size_t> pending_{0};
    client::hub_connection connection_;
    terminal* console_ = nullptr;
    // The console thread's alone: user → connection ids.
    std::map<std::string, std::set<std::string>> seen_;
    std::size_t tracked_ = 0;
};

}  // namespace

int run_chat(const chat_options& options) {
    auto url = chat_url(options.url, options.user);
    if (!url) {
        std::fprintf(stderr, "chat: --url: %s\n", url.error_message().c_str());
        return exit_usage;
    }
    try {
        chat_session session(options, std::move(*url), ::isatty(STDIN_FILENO) != 0);
        return session.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat: %s\n", e.what());
        return exit_start_failed;
    }
}

}  // namespace switchboard::chat
