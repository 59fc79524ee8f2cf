// A background worker that never touches a WebSocket: it takes tenant-creation jobs from a Redis
// list (BLPOP) and, per job, publishes progress and a final TenantCreated or
// TenantCreationFailed to the job's user and the tenant's group through the publisher library,
// straight into the backplane; whichever Switchboard instance (or ASP.NET server) holds the
// user's connections delivers them. examples/worker/README.md runs it next to two instances.
//
//   switchboard-example-job-worker --backplane redis://127.0.0.1:6379 --hub notifications
//       [--prefix Diquis] [--redis 127.0.0.1:6379] [--list tenant-jobs] [--max-jobs N]
//
// A job is a JSON object pushed onto the list (RPUSH tenant-jobs '{...}'):
//   {"id": "j1", "user": "alice", "tenant": "acme",
//    "error": "quota exceeded"  (optional: the job fails with it),
//    "connection": "..."        (optional: a connection to add to the tenant's group first)}
#include "routing/publisher.hpp"
#include "server/backends.hpp"

#include <hiredis/hiredis.h>
#include <boost/json/parse.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace routing = switchboard::routing;
using namespace std::chrono_literals;

namespace {

volatile std::sig_atomic_t stopping = 0;

struct settings {
    std::string backplane = "redis://127.0.0.1:6379";
    std::string hub = "notifications";
    std::optional<std::string> prefix;
    std::string redis_host = "127.0.0.1";
    int redis_port = 6379;
    std::string list = "tenant-jobs";
    long max_jobs = -1;  // -1: until SIGINT/SIGTERM
};

struct job {
    std::string id;
    std::string user;
    std::string tenant;
    std::string error;       // empty: the job succeeds
    std::string connection;  // empty: nobody to add to the tenant's group
};

bool parse_settings(int argc, char** argv, settings& out) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--backplane") {
            out.backplane = value;
        } else if (flag == "--hub") {
            out.hub = value;
        } else if (flag == "--prefix") {
            out.prefix = value;
        } else if (flag == "--redis") {
            const auto colon = value.rfind(':');
            out.redis_host = value.substr(0, colon);
            if (colon != std::string::npos) {
                out.redis_port = std::atoi(value.c_str() + colon + 1);
            }
        } else if (flag == "--list") {
            out.list = value;
        } else if (flag == "--max-jobs") {
            out.max_jobs = std::atol(value.c_str());
        } else {
            return false;
        }
    }
    return argc % 2 == 1;
}

// A bad job is reported and skipped: one malformed entry must not stop the queue.
std::optional<job> parse_job(std::string_view text) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) {
        return std::nullopt;
    }
    const auto& object = value.get_object();
    const auto text_of = [&](const char* key) -> std::string {
        const auto* item = object.if_contains(key);
        return item != nullptr && item->is_string() ? std::string(item->get_string()) : "";
    };
    job out{text_of("id"), text_of("user"), text_of("tenant"), text_of("error"),
            text_of("connection")};
    if (out.user.empty() || out.tenant.empty()) {
        return std::nullopt;
    }
    return out;
}

routing::publication to_user(const job& j, std::string target, boost::json::object payload) {
    routing::publication p;
    p.target = std::move(target);
    p.arguments.push_back(std::move(payload));
    p.to.type = routing::recipients::kind::users;
    p.to.names = {j.user};
    return p;
}

// The notifications of one job; false when the bus refused or lost them.
bool run_job(routing::blocking_publisher& bus, const job& j) {
    const auto group = "tenant-" + j.tenant;
    if (!j.connection.empty()) {
        // Acknowledged by the instance holding the connection, wherever it is.
        if (auto added = bus.add_to_group("", j.connection, group); !added) {
            std::fprintf(stderr, "job %s: adding %s to %s: %s\n", j.id.c_str(),
                         j.connection.c_str(), group.c_str(), added.error_message().c_str());
        }
    }
    for (const int percent : {25, 50, 75}) {
        // The real work would happen here, between the progress reports.
        bus.publish(to_user(j, "TenantProgress",
                            {{"jobId", j.id}, {"tenantName", j.tenant}, {"percent", percent}}));
    }
    auto final = j.error.empty()
                     ? to_user(j, "TenantCreated", {{"jobId", j.id}, {"tenantName", j.tenant}})
                     : to_user(j, "TenantCreationFailed",
                               {{"jobId", j.id}, {"tenantName", j.tenant}, {"error", j.error}});
    bus.publish(final);
    final.to.type = routing::recipients::kind::groups;
    final.to.names = {group};
    bus.publish(final);
    // Confirmed by Redis before the job counts as done: a crash after this loses nothing.
    if (auto flushed = bus.flush(5s); !flushed) {
        std::fprintf(stderr, "job %s: %s\n", j.id.c_str(), flushed.error_message().c_str());
        return false;
    }
    std::printf("job %s: %s %s for %s\n", j.id.c_str(), j.error.empty() ? "created" : "failed",
                j.tenant.c_str(), j.user.c_str());
    std::fflush(stdout);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    settings config;
    if (!parse_settings(argc, argv, config)) {
        std::fprintf(stderr,
                     "usage: %s --backplane SPEC --hub NAME [--prefix P] [--redis HOST:PORT] "
                     "[--list NAME] [--max-jobs N]\n",
                     argv[0]);
        return 2;
    }
    std::signal(SIGINT, [](int) { stopping = 1; });
    std::signal(SIGTERM, [](int) { stopping = 1; });

    std::unique_ptr<routing::blocking_publisher> bus;
    try {
        routing::publisher_options options;
        options.hub = config.hub;
        options.channel_prefix = config.prefix;
        bus = std::make_unique<routing::blocking_publisher>(
            switchboard::backplane_maker(config.backplane), options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "worker: %s\n", e.what());
        return 2;
    }
    if (auto connected = bus->connect(10s); !connected) {
        std::fprintf(stderr, "worker: %s\n", connected.error_message().c_str());
        return 1;
    }

    // The job queue: hiredis's blocking API on this thread, apart from the backplane's.
    const timeval connect_timeout{5, 0};
    std::unique_ptr<redisContext, decltype(&redisFree)> jobs(
        redisConnectWithTimeout(config.redis_host.c_str(), config.redis_port, connect_timeout),
        &redisFree);
    if (!jobs || jobs->err != 0) {
        std::fprintf(stderr, "worker: job queue %s:%d: %s\n", config.redis_host.c_str(),
                     config.redis_port, jobs ? jobs->errstr : "out of memory");
        return 1;
    }
    std::printf("worker: waiting for jobs on %s\n", config.list.c_str());
    std::fflush(stdout);

    long done = 0;
    while (stopping == 0 && (config.max_jobs < 0 || done < config.max_jobs)) {
        // A 1 s block, so a signal is noticed between waits.
        auto* raw =
            static_cast<redisReply*>(redisCommand(jobs.get(), "BLPOP %s 1", config.list.c_str()));
        if (raw == nullptr) {
            std::fprintf(stderr, "worker: job queue: %s\n", jobs->errstr);
            return 1;
        }
        std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(raw, &freeReplyObject);
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            continue;  // the 1 s passed with no job
        }
        const std::string_view text(reply->element[1]->str, reply->element[1]->len);
        const auto j = parse_job(text);
        if (!j) {
            std::fprintf(stderr, "worker: skipped a malformed job: %.*s\n",
                         static_cast<int>(text.size()), text.data());
            continue;
        }
        if (!run_job(*bus, *j)) {
            return 1;
        }
        ++done;
    }
    return 0;
}
