// One libpq session driven by Asio: non-blocking connect, pipeline mode, notifications, and
// reconnection with jittered backoff. Never a blocking libpq call.
#pragma once

#include "routing/link/backoff.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::routing::postgres {

// libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably
// means..."): one line each in our log.
[[nodiscard]] std::string one_line(std::string_view message);
// A statement's error in one line; "connection lost" for the nullptr a lost session answers.
[[nodiscard]] std::string result_error(const PGresult* result);
// True for a command or query that completed (not for nullptr, an error or a copy state).
[[nodiscard]] bool succeeded(const PGresult* result);

// Lifetime: owned by shared_ptr; every pending wait holds one, so stop() and destruction may
// happen while waits are outstanding. Threading: one io_context (the control shard); every
// method and handler runs there.
//
// Invariants: the stream_descriptor never owns libpq's socket (release() before PQfinish and
// before every re-assignment: libpq closes and may replace it during connect); `pending_`
// lists, in pipeline order, what the server owes a result for, so results are matched by
// position.
class pg_connection : public std::enable_shared_from_this<pg_connection> {
public:
    struct handlers {
        // Connected, in pipeline mode, ready for queries.
        std::function<void()> on_up;
        // Lost (or a connect attempt failed, `was_up` false); a retry is scheduled. Pending
        // queries were answered with nullptr before this runs.
        std::function<void(std::string_view reason, bool was_up)> on_down;
        std::function<void(const PGnotify&)> on_notify;
    };
    // The query's result (owned by the connection: valid during the call), or nullptr when the
    // connection was lost before it came.
    using result_handler = std::function<void(const PGresult*)>;
    // After a pipeline sync point: true when the server processed everything before it.
    using sync_handler = std::function<void(bool)>;

    struct parameters {
        int count = 0;
        const char* const* values = nullptr;
        const int* lengths = nullptr;
        const int* formats = nullptr;  // null: all text
        int result_format = 0;         // 0 text, 1 binary
    };

    pg_connection(boost::asio::io_context& context, std::string conninfo,
                  std::chrono::milliseconds connect_timeout, link::backoff backoff,
                  std::string name);
    ~pg_connection();
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    void set_handlers(handlers h) { handlers_ = std::move(h); }
    // Connects; failures are retried forever with backoff until stop().
    void start();
    // Closes without calling any handler again.
    void stop();

    [[nodiscard]] bool up() const noexcept { return state_ == state::up; }
    // The server process serving this session (PGnotify::be_pid of what it sends); 0 while down.
    [[nodiscard]] int backend_pid() const noexcept { return backend_pid_; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    // The width of the last reconnect delay range (link::backoff::spread()).
    [[nodiscard]] std::chrono::milliseconds backoff_spread() const noexcept {
        return backoff_.spread();
    }

    // Queue a statement in the pipeline; it goes out with the next sync(). False while down or
    // when libpq refused it (the connection is then being dropped; the handler never runs).
    bool send_query(const char* sql, const parameters& p, result_handler on_result);
    bool send_prepared(const char* statement, const parameters& p, result_handler on_result);
    bool send_prepare(const char* statement, const char* sql, int count, const Oid* types,
                      result_handler on_result);
    // Ends a batch: one Sync (one implicit transaction, one round trip) and a flush.
    bool sync(sync_handler on_sync);

private:
    enum class state { idle, connecting, up, waiting, stopped };
    struct entry {
        result_handler on_result;
        sync_handler on_sync;
        bool is_sync = false;
        bool got_result = false;
    };

    void connect();
    void resolve(std::size_t index,
                 std::shared_ptr<std::vector<std::vector<std::string>>> addresses);
    void start_libpq(const std::string& conninfo);
    void connect_wait(PostgresPollingStatusType poll);
    void connect_step();
    void on_connected();
    void start_read();
    void on_readable();
    bool process_results();
    bool flush();
    void assign_socket();
    void release_socket();
    void fail(std::string reason);
    void fail_later(std::string reason);
    void close();

    boost::asio::io_context& context_;
    std::string conninfo_;
    std::chrono::milliseconds connect_timeout_;
    link::backoff backoff_;
    std::string name_;
    handlers handlers_;
    // libpq resolves host names with a blocking getaddrinfo: names are resolved here, with
    // Asio, and handed to libpq as hostaddr, one host-list entry per address (host stays, for
    // TLS verification). hosts_ is the conninfo's host list, ports_ its port list (one entry
    // for all hosts, or one per host), base_ the other options; hosts_ is empty when libpq
    // needs no help (hostaddr given, IPs only, Unix sockets).
    std::vector<std::string> hosts_;
    std::vector<std::string> ports_;
    std::string base_;
    boost::asio::ip::tcp::resolver resolver_;
    PGconn* conn_ = nullptr;
    boost::asio::posix::stream_descriptor socket_;
    boost::asio::steady_timer timer_;
    state state_ = state::idle;
    // Bumped on every connect and failure: completions of an older session are ignored.
    std::uint64_t generation_ = 0;
    int backend_pid_ = 0;
    bool reading_ = false;
    bool writing_ = false;
    bool flush_pending_ = false;
    std::deque<entry> pending_;
};

}  // namespace switchboard::routing::postgres
