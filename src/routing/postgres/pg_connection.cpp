#include "routing/postgres/pg_connection.hpp"

#include "routing/postgres/connection_string.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <utility>

namespace switchboard::routing::postgres {

std::string one_line(std::string_view message) {
    std::string text;
    bool space = false;
    for (const char c : message) {
        if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
            space = !text.empty();
            continue;
        }
        if (space) {
            text.push_back(' ');
            space = false;
        }
        text.push_back(c);
    }
    return text;
}

std::string result_error(const PGresult* result) {
    if (result == nullptr) {
        return "connection lost";
    }
    auto text = one_line(PQresultErrorMessage(result));
    return text.empty() ? std::string(PQresStatus(PQresultStatus(result))) : text;
}

bool succeeded(const PGresult* result) {
    if (result == nullptr) {
        return false;
    }
    const auto status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

namespace {

// A host name, not an IP literal or a Unix-socket directory (absolute path, '@' abstract).
bool needs_resolving(const std::string& host) {
    if (host.empty() || host.front() == '/' || host.front() == '@') {
        return false;
    }
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(host, ec);
    return static_cast<bool>(ec);
}

std::string error_text(const PGconn* conn) {
    auto text = one_line(conn != nullptr ? PQerrorMessage(conn) : "out of memory");
    return text.empty() ? std::string("connection failed") : text;
}

// libpq prints server notices ("schema ... already exists, skipping") to stderr by default.
void log_notice(void* name, const char* message) {
    spdlog::debug("backplane: PostgreSQL {} session: {}", static_cast<const char*>(name),
                  one_line(message));
}

}  // namespace

pg_connection::pg_connection(boost::asio::io_context& context, std::string conninfo,
                             std::chrono::milliseconds connect_timeout, link::backoff backoff,
                             std::string name)
    : context_(context),
      conninfo_(std::move(conninfo)),
      connect_timeout_(connect_timeout),
      backoff_(std::move(backoff)),
      name_(std::move(name)),
      resolver_(context),
      socket_(context),
      timer_(context) {
    char* message = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo_.c_str(), &message);
    PQfreemem(message);
    if (options == nullptr) {
        return;  // PQconnectStart reports it
    }
    std::string_view host;
    std::string_view port;
    bool has_hostaddr = false;
    std::string base;
    for (auto* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) {
            continue;
        }
        const std::string_view keyword = o->keyword;
        if (keyword == "host") {
            host = o->val;
        } else if (keyword == "port") {
            port = o->val;
        } else {
            has_hostaddr = has_hostaddr || (keyword == "hostaddr" && *o->val != '\0');
            append_conninfo_option(base, keyword, o->val);
        }
    }
    const auto split = [](std::string_view list) {
        std::vector<std::string> out;
        while (!list.empty()) {
            const auto comma = list.find(',');
            out.emplace_back(list.substr(0, comma));
            list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        }
        return out;
    };
    auto hosts = split(host);
    if (!has_hostaddr && std::any_of(hosts.begin(), hosts.end(), needs_resolving)) {
        hosts_ = std::move(hosts);
        ports_ = split(port);
        base_ = std::move(base);
    }
    PQconninfoFree(options);
}

pg_connection::~pg_connection() {
    close();
}

void pg_connection::start() {
    if (state_ == state::idle) {
        connect();
    }
}

void pg_connection::stop() {
    state_ = state::stopped;
    ++generation_;
    handlers_ = {};
    pending_.clear();
    timer_.cancel();
    close();
}

void pg_connection::close() {
    resolver_.cancel();
    release_socket();
    if (conn_ != nullptr) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
    backend_pid_ = 0;
    reading_ = false;
    writing_ = false;
    flush_pending_ = false;
}

void pg_connection::release_socket() {
    if (socket_.is_open()) {
        // Aborts the waits and hands the descriptor back: libpq owns and closes it.
        (void)socket_.release();
    }
}

void pg_connection::assign_socket() {
    release_socket();
    const int fd = PQsocket(conn_);
    if (fd < 0) {
        return fail("no socket");
    }
    boost::system::error_code ec;
    socket_.assign(fd, ec);
    if (ec) {
        fail("cannot watch the socket: " + ec.message());
    }
}

void pg_connection::connect() {
    ++generation_;
    state_ = state::connecting;
    // One deadline for resolving, TCP, TLS and authentication.
    timer_.expires_after(connect_timeout_);
    timer_.async_wait([self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
        if (!ec && gen == self->generation_ && self->state_ == state::connecting) {
            self->fail("connect timeout");
        }
    });
    if (hosts_.empty()) {
        return start_libpq(conninfo_);
    }
    resolve(0, std::make_shared<std::vector<std::vector<std::string>>>(hosts_.size()));
}

void pg_connection::resolve(std::size_t index,
                            std::shared_ptr<std::vector<std::vector<std::string>>> addresses) {
    while (index < hosts_.size() && !needs_resolving(hosts_[index])) {
        const auto& host = hosts_[index];
        // An IP is its own address; a socket directory takes an empty hostaddr entry.
        (*addresses)[index] = {
            host.empty() || host.front() == '/' || host.front() == '@' ? std::string() : host};
        ++index;
    }
    if (index == hosts_.size()) {
        // Every address of every host, in order, as libpq would try them itself; a host that
        // did not resolve is left out.
        std::string host_list;
        std::string address_list;
        std::string port_list;
        for (std::size_t i = 0; i < hosts_.size(); ++i) {
            for (const auto& address : (*addresses)[i]) {
                if (!host_list.empty()) {
                    host_list.push_back(',');
                    address_list.push_back(',');
                    if (ports_.size() > 1) {
                        port_list.push_back(',');
                    }
                }
                host_list.append(hosts_[i]);
                address_list.append(address);
                if (ports_.size() > 1 && i < ports_.size()) {
                    port_list.append(ports_[i]);
                }
            }
        }
        if (host_list.empty()) {
            return fail("no host resolved");
        }
        if (ports_.size() == 1) {
            port_list = ports_.front();
        }
        auto conninfo = base_;
        append_conninfo_option(conninfo, "host", host_list);
        append_conninfo_option(conninfo, "hostaddr", address_list);
        if (!port_list.empty()) {
            append_conninfo_option(conninfo, "port", port_list);
        }
        return start_libpq(conninfo);
    }
    resolver_.async_resolve(
        hosts_[index], "",
        [self = shared_from_this(), gen = generation_, index, addresses](
            boost::system::error_code ec, boost::asio::ip::tcp::resolver::results_type results) {
            if (gen != self->generation_ || self->state_ != state::connecting) {
                return;
            }
            if (ec) {
                spdlog::debug("backplane: cannot resolve {}: {}", self->hosts_[index],
                              ec.message());
            }
            for (const auto& entry : results) {
                (*addresses)[index].push_back(entry.endpoint().address().to_string());
            }
            self->resolve(index + 1, addresses);
        });
}

void pg_connection::start_libpq(const std::string& conninfo) {
    conn_ = PQconnectStart(conninfo.c_str());
    if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
        return fail(error_text(conn_));
    }
    PQsetNoticeProcessor(conn_, &log_notice, const_cast<char*>(name_.c_str()));
    // libpq's documented start: wait until the socket is writable, then poll.
    connect_wait(PGRES_POLLING_WRITING);
}

void pg_connection::connect_wait(PostgresPollingStatusType poll) {
    // Re-assigned before every wait: libpq may have closed the socket and opened another
    // (next host, or sslmode=prefer retrying without TLS), possibly with the same number.
    const auto gen = generation_;
    assign_socket();
    if (gen != generation_) {
        return;
    }
    const auto direction = poll == PGRES_POLLING_READING
                               ? boost::asio::posix::stream_descriptor::wait_read
                               : boost::asio::posix::stream_descriptor::wait_write;
    socket_.async_wait(direction, [self = shared_from_this(), gen](boost::system::error_code ec) {
        if (gen != self->generation_ || self->state_ != state::connecting) {
            return;
        }
        if (ec) {
            return self->fail("wait failed: " + ec.message());
        }
        self->connect_step();
    });
}

void pg_connection::connect_step() {
    switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_OK:
        return on_connected();
    case PGRES_POLLING_READING:
        return connect_wait(PGRES_POLLING_READING);
    case PGRES_POLLING_WRITING:
        return connect_wait(PGRES_POLLING_WRITING);
    default:
        return fail(error_text(conn_));
    }
}

void pg_connection::on_connected() {
    timer_.cancel();
    if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
        return fail(error_text(conn_));
    }
    const auto gen = generation_;
    assign_socket();
    if (gen != generation_) {
        return;
    }
    state_ = state::up;
    backoff_.reset();
    backend_pid_ = PQbackendPID(conn_);
    start_read();
    if (handlers_.on_up) {
        handlers_.on_up();
    }
}

void pg_connection::start_read() {
    if (reading_ || state_ != state::up) {
        return;
    }
    reading_ = true;
    socket_.async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
            if (gen != self->generation_) {
                return;
            }
            self->reading_ = false;
            if (ec) {
                return self->fail("wait failed: " + ec.message());
            }
            self->on_readable();
        });
}

void pg_connection::on_readable() {
    const auto gen = generation_;
    if (PQconsumeInput(conn_) == 0) {
        return fail(error_text(conn_));
    }
    if (!process_results()) {
        return;
    }
    while (PGnotify* notify = PQnotifies(conn_)) {
        std::unique_ptr<PGnotify, decltype(&PQfreemem)> owned(notify, &PQfreemem);
        if (handlers_.on_notify) {
            handlers_.on_notify(*notify);
        }
        if (gen != generation_) {
            return;
        }
    }
    // The server may have stopped reading until we read: what we could not send goes now.
    if (flush_pending_ && !flush()) {
        return;
    }
    start_read();
}

bool pg_connection::process_results() {
    const auto gen = generation_;
    while (!pending_.empty()) {
        if (PQisBusy(conn_) != 0) {
            break;
        }
        PGresult* raw = PQgetResult(conn_);
        if (raw == nullptr) {
            // The end of one query's results.
            if (!pending_.front().is_sync && pending_.front().got_result) {
                pending_.pop_front();
                continue;
            }
            break;
        }
        std::unique_ptr<PGresult, decltype(&PQclear)> result(raw, &PQclear);
        auto& front = pending_.front();
        if (PQresultStatus(raw) == PGRES_PIPELINE_SYNC) {
            if (!front.is_sync) {
                fail("pipeline out of step: a sync point before a query's result");
                return false;
            }
            auto on_sync = std::move(front.on_sync);
            pending_.pop_front();
            if (on_sync) {
                on_sync(true);
            }
        } else if (!front.is_sync && !front.got_result) {
            front.got_result = true;
            // Moved out first: the handler may queue more (deque references stay valid).
            auto on_result = std::move(front.on_result);
            if (on_result) {
                on_result(raw);
            }
        }
        if (gen != generation_) {
            return false;
        }
    }
    return true;
}

bool pg_connection::send_query(const char* sql, const parameters& p, result_handler on_result) {
    if (state_ != state::up) {
        return false;
    }
    if (PQsendQueryParams(conn_, sql, p.count, nullptr, p.values, p.lengths, p.formats,
                          p.result_format) == 0) {
        fail_later(error_text(conn_));
        return false;
    }
    pending_.push_back({std::move(on_result), {}, false, false});
    return true;
}

bool pg_connection::send_prepared(const char* statement, const parameters& p,
                                  result_handler on_result) {
    if (state_ != state::up) {
        return false;
    }
    if (PQsendQueryPrepared(conn_, statement, p.count, p.values, p.lengths, p.formats,
                            p.result_format) == 0) {
        fail_later(error_text(conn_));
        return false;
    }
    pending_.push_back({std::move(on_result), {}, false, false});
    return true;
}

bool pg_connection::send_prepare(const char* statement, const char* sql, int count,
                                 const Oid* types, result_handler on_result) {
    if (state_ != state::up) {
        return false;
    }
    if (PQsendPrepare(conn_, statement, sql, count, types) == 0) {
        fail_later(error_text(conn_));
        return false;
    }
    pending_.push_back({std::move(on_result), {}, false, false});
    return true;
}

bool pg_connection::sync(sync_handler on_sync) {
    if (state_ != state::up) {
        return false;
    }
    if (PQpipelineSync(conn_) == 0) {
        fail_later(error_text(conn_));
        return false;
    }
    pending_.push_back({{}, std::move(on_sync), true, false});
    // Queued either way: a failed flush drops the session, which answers it with false.
    (void)flush();
    return true;
}

bool pg_connection::flush() {
    const int status = PQflush(conn_);
    if (status < 0) {
        fail_later(error_text(conn_));
        return false;
    }
    flush_pending_ = status == 1;
    if (flush_pending_ && !writing_) {
        writing_ = true;
        socket_.async_wait(
            boost::asio::posix::stream_descriptor::wait_write,
            [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                if (gen != self->generation_) {
                    return;
                }
                self->writing_ = false;
                if (ec) {
                    return self->fail("wait failed: " + ec.message());
                }
                if (self->flush_pending_) {
                    (void)self->flush();
                }
            });
    }
    return true;
}

void pg_connection::fail_later(std::string reason) {
    // Not from inside a caller's send: it is building a batch and must not see its handlers
    // run under it. Stops further sends at once.
    if (state_ == state::up) {
        state_ = state::waiting;
    }
    boost::asio::post(context_, [self = shared_from_this(), gen = generation_,
                                 reason = std::move(reason)]() mutable {
        if (gen == self->generation_) {
            self->fail(std::move(reason));
        }
    });
}

void pg_connection::fail(std::string reason) {
    if (state_ == state::stopped) {
        return;
    }
    // Set when a session was established, even if a failed send already left state::up.
    const bool was_up = backend_pid_ != 0;
    ++generation_;
    timer_.cancel();
    close();
    state_ = state::waiting;
    auto pending = std::move(pending_);
    pending_.clear();
    const auto gen = generation_;
    for (auto& entry : pending) {
        if (entry.is_sync) {
            if (entry.on_sync) {
                entry.on_sync(false);
            }
        } else if (!entry.got_result && entry.on_result) {
            entry.on_result(nullptr);
        }
    }
    if (gen == generation_ && handlers_.on_down) {
        handlers_.on_down(reason, was_up);
    }
    if (gen != generation_ || state_ == state::stopped) {
        return;
    }
    timer_.expires_after(backoff_.next());
    timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
        if (!ec && gen == self->generation_ && self->state_ == state::waiting) {
            self->connect();
        }
    });
}

}  // namespace switchboard::routing::postgres
