#include "redis_server.hpp"

#include "../support/server_process.hpp"
#include "../support/test_certificates.hpp"

#include <hiredis/hiredis.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::testing {

namespace {

std::uint16_t pick_free_port() {
    // Bind port 0 and let the kernel choose; the tiny window before redis binds it is
    // acceptable for tests (nothing else on the machine races for fresh ephemeral ports).
    boost::asio::io_context context;
    boost::asio::ip::tcp::acceptor acceptor(
        context, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    return acceptor.local_endpoint().port();
}

std::string find_redis_server() {
    for (const char* candidate : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
        if (::access(candidate, X_OK) == 0) {
            return candidate;
        }
    }
    return {};
}

}  // namespace

std::uint16_t redis_server::free_port() {
    return pick_free_port();
}

std::string redis_server::make_temp_directory() {
    auto pattern = (std::filesystem::temp_directory_path() / "switchboard-redis-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        return {};
    }
    return pattern;
}

bool redis_server::enable_tls(bool require_client_certificates) {
    if (directory_.empty()) {
        return false;
    }
    if (!make_test_certificates(directory_)) {
        return false;
    }
    tls_port_ = pick_free_port();
    extra_arguments_.insert(
        extra_arguments_.end(),
        {"--tls-port", std::to_string(tls_port_), "--tls-cert-file", file("server.crt"),
         "--tls-key-file", file("server.key"), "--tls-ca-cert-file", file("ca.crt"),
         "--tls-auth-clients", require_client_certificates ? "yes" : "no"});
    return true;
}

bool redis_server::available() {
    return !find_redis_server().empty();
}

redis_server::redis_server(std::vector<std::string> extra_arguments)
    : extra_arguments_(std::move(extra_arguments)),
      directory_(make_temp_directory()),
      port_(pick_free_port()) {}

redis_server::~redis_server() {
    kill();
    if (!directory_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
}

bool redis_server::start() {
    if (running()) {
        return true;
    }
    const auto binary = find_redis_server();
    if (binary.empty() || directory_.empty()) {
        return false;
    }
    std::vector<std::string> arguments{
        binary,     "--port",    std::to_string(port_),    "--bind", "127.0.0.1",
        "--save",   "",          "--appendonly",           "no",     "--dir",
        directory_, "--logfile", directory_ + "/redis.log"};
    arguments.insert(arguments.end(), extra_arguments_.begin(), extra_arguments_.end());
    std::vector<char*> argv;
    for (auto& argument : arguments) {
        argv.push_back(argument.data());
    }
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    return wait_ready();
}

void redis_server::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

bool redis_server::wait_ready() {
    return wait_until_answers(pid_, std::chrono::seconds(10), [this] {
        const timeval timeout{1, 0};
        redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeout);
        if (context == nullptr) {
            return false;
        }
        bool up = false;
        if (context->err == 0) {
            auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
            // NOAUTH (an error reply) also says the server is up.
            up = reply != nullptr &&
                 (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_ERROR);
            if (reply != nullptr) {
                freeReplyObject(reply);
            }
        }
        redisFree(context);
        return up;
    });
}

namespace {

// One command over a short-lived synchronous connection (after AUTH when a password is given);
// `read` sees the reply, or nullptr when there is none.
template <class Read>
auto run_command(std::uint16_t port, const std::string& password,
                 const std::vector<std::string>& argv, Read read) {
    const timeval timeout{2, 0};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context == nullptr || context->err != 0) {
        if (context != nullptr) {
            redisFree(context);
        }
        return read(nullptr);
    }
    if (!password.empty()) {
        auto* reply = static_cast<redisReply*>(redisCommand(context, "AUTH %s", password.c_str()));
        if (reply != nullptr) {
            freeReplyObject(reply);
        }
    }
    std::vector<const char*> pointers;
    std::vector<size_t> lengths;
    for (const auto& argument : argv) {
        pointers.push_back(argument.data());
        lengths.push_back(argument.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), pointers.data(), lengths.data()));
    auto result = read(reply);
    if (reply != nullptr) {
        freeReplyObject(reply);
    }
    redisFree(context);
    return result;
}

}  // namespace

long long redis_server::integer_command(const std::string& password,
                                        const std::vector<std::string>& argv) {
    return run_command(port_, password, argv, [](const redisReply* reply) -> long long {
        if (reply == nullptr) {
            return -1;
        }
        if (reply->type == REDIS_REPLY_INTEGER) {
            return reply->integer;
        }
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[1]->type == REDIS_REPLY_INTEGER) {
            return reply->element[1]->integer;  // PUBSUB NUMSUB channel -> [channel, count]
        }
        return -1;
    });
}

std::string redis_server::string_command(const std::vector<std::string>& argv) {
    return run_command(port_, {}, argv, [](const redisReply* reply) {
        if (reply != nullptr &&
            (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
             reply->type == REDIS_REPLY_ERROR)) {
            return std::string(reply->str, reply->len);
        }
        return std::string();
    });
}

}  // namespace switchboard::testing
