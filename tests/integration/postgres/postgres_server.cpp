#include "postgres_server.hpp"

#include "../support/server_process.hpp"

#include <postgresql/libpq-fe.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::testing {

namespace {

const std::string bin = "/usr/lib/postgresql/15/bin/";

std::uint16_t pick_free_port() {
    // The kernel's pick for port 0; the window before postgres binds it is acceptable here.
    boost::asio::io_context context;
    boost::asio::ip::tcp::acceptor acceptor(
        context, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    return acceptor.local_endpoint().port();
}

// Forks and execs `arguments` in a new process group, as the postgres user when root, output
// to `log`. Returns the child's pid, or -1.
pid_t spawn(std::vector<std::string> arguments, const std::string& log) {
    std::vector<char*> argv;
    for (auto& argument : arguments) {
        argv.push_back(argument.data());
    }
    argv.push_back(nullptr);
    const passwd* user = ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr;
    const pid_t pid = ::fork();
    if (pid != 0) {
        return pid;
    }
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    if (user != nullptr && (::setgid(user->pw_gid) != 0 || ::setuid(user->pw_uid) != 0)) {
        ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
}

}  // namespace

bool postgres_server::available() {
    return ::access((bin + "postgres").c_str(), X_OK) == 0 &&
           ::access((bin + "initdb").c_str(), X_OK) == 0 &&
           (::geteuid() != 0 || ::getpwnam("postgres") != nullptr);
}

postgres_server::postgres_server() : port_(pick_free_port()) {
    auto pattern = (std::filesystem::temp_directory_path() / "switchboard-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) {
        directory_ = pattern;
        if (::geteuid() == 0) {
            if (const passwd* user = ::getpwnam("postgres")) {
                (void)::chown(directory_.c_str(), user->pw_uid, user->pw_gid);
            }
        }
    }
}

postgres_server::~postgres_server() {
    kill();
    if (!directory_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
}

std::string postgres_server::conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres";
}

bool postgres_server::initialize() {
    if (initialized_) {
        return true;
    }
    // --no-sync: a throwaway cluster need not survive a power cut; it saves seconds.
    const pid_t pid = spawn({bin + "initdb", "-D", directory_ + "/data", "-U", "postgres",
                             "--auth=trust", "-E", "UTF8", "--no-sync"},
                            directory_ + "/initdb.log");
    int status = 0;
    initialized_ = pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                   WEXITSTATUS(status) == 0;
    return initialized_;
}

bool postgres_server::enable_tls() {
    const auto log = file("openssl.log");
    // P-256 keys: generated in milliseconds, where RSA would cost seconds.
    const std::string new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const auto run = [&](const std::string& command) {
        return std::system((command + " >>" + log + " 2>&1").c_str()) == 0;
    };
    std::ofstream(file("server.ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    tls_ = run("openssl req -x509 " + new_key + " -keyout " + file("ca.key") + " -out " +
               file("ca.crt") + " -days 2 -subj /CN=ca") &&
           run("openssl req " + new_key + " -keyout " + file("server.key") + " -out " +
               file("server.csr") + " -subj /CN=server") &&
           run("openssl x509 -req -in " + file("server.csr") + " -CA " + file("ca.crt") +
               " -CAkey " + file("ca.key") + " -set_serial 1 -days 2 -out " + file("server.crt") +
               " -extfile " + file("server.ext"));
    if (tls_ && ::geteuid() == 0) {
        // The server reads its key as the postgres user and refuses a key others can read.
        if (const passwd* user = ::getpwnam("postgres")) {
            for (const auto* name : {"server.key", "server.crt"}) {
                (void)::chown(file(name).c_str(), user->pw_uid, user->pw_gid);
            }
        }
    }
    ::chmod(file("server.key").c_str(), 0600);
    return tls_;
}

bool postgres_server::start() {
    if (running()) {
        return true;
    }
    if (directory_.empty() || !initialize()) {
        return false;
    }
    // fsync off: crash-safety is not under test, speed is.
    std::vector<std::string> arguments{bin + "postgres",
                                       "-D",
                                       directory_ + "/data",
                                       "-p",
                                       std::to_string(port_),
                                       "-k",
                                       directory_,
                                       "-c",
                                       "listen_addresses=127.0.0.1",
                                       "-c",
                                       "fsync=off"};
    if (tls_) {
        arguments.insert(arguments.end(),
                         {"-c", "ssl=on", "-c", "ssl_cert_file=" + file("server.crt"), "-c",
                          "ssl_key_file=" + file("server.key")});
    }
    pid_ = spawn(std::move(arguments), directory_ + "/postgres.log");
    return pid_ > 0 && wait_ready();
}

namespace {

// The postmaster's children (backends, background workers): each makes itself a process
// group leader, so killing the postmaster's group does not reach them.
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> children;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        std::istringstream rest(line.substr(close + 1));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent) {
            children.push_back(static_cast<pid_t>(std::stoi(name)));
        }
    }
    return children;
}

}  // namespace

void postgres_server::kill() {
    if (pid_ > 0) {
        // A crash of the whole server: every backend dies with the postmaster, at once.
        const auto children = children_of(pid_);
        ::kill(-pid_, SIGKILL);
        for (const pid_t child : children) {
            ::kill(child, SIGKILL);
        }
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

bool postgres_server::wait_ready() {
    // A refused connect fails at once; connect_timeout bounds one that hangs.
    const auto info = conninfo() + " connect_timeout=2";
    return wait_until_answers(pid_, std::chrono::seconds(30), [&] {
        PGconn* conn = PQconnectdb(info.c_str());
        const bool up = PQstatus(conn) == CONNECTION_OK;
        PQfinish(conn);
        return up;
    });
}

std::string postgres_server::query(const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo().c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        return "ERROR: " + std::string(PQerrorMessage(conn.get()));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK) {
        return "";
    }
    if (status != PGRES_TUPLES_OK) {
        return "ERROR: " + std::string(PQresultErrorMessage(result.get()));
    }
    if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) {
        return "";
    }
    return PQgetvalue(result.get(), 0, 0);
}

}  // namespace switchboard::testing
