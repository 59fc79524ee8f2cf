#include "nats_server.hpp"

#include "../support/server_process.hpp"
#include "../support/test_certificates.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::testing {

namespace {

const char* const binary = "/usr/sbin/nats-server";

std::string make_temp_directory() {
    auto pattern = (std::filesystem::temp_directory_path() / "switchboard-nats-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        return {};
    }
    return pattern;
}

// Connects to 127.0.0.1:port and reads the server's greeting: NATS sends "INFO {...}\r\n" to
// every client at once. A refused connect returns at once; the read waits at most 1 s.
bool greets(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const timeval timeout{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
        char buffer[5] = {};
        std::size_t got = 0;
        while (got < sizeof buffer) {
            const auto n = ::recv(fd, buffer + got, sizeof buffer - got, 0);
            if (n <= 0) {
                break;
            }
            got += static_cast<std::size_t>(n);
        }
        ok = got == sizeof buffer && std::string_view(buffer, 5) == "INFO ";
    }
    ::close(fd);
    return ok;
}

}  // namespace

std::uint16_t nats_server::free_port() {
    // The kernel's pick for a bind to port 0; the short window before nats-server binds it is
    // acceptable for tests.
    boost::asio::io_context context;
    boost::asio::ip::tcp::acceptor acceptor(
        context, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    return acceptor.local_endpoint().port();
}

bool nats_server::enable_tls(bool verify_clients) {
    if (directory_.empty()) {
        return false;
    }
    if (!make_test_certificates(directory_)) {
        return false;
    }
    extra_arguments_.insert(extra_arguments_.end(),
                            {"--tlscert", file("server.crt"), "--tlskey", file("server.key")});
    if (verify_clients) {
        extra_arguments_.insert(extra_arguments_.end(),
                                {"--tlsverify", "--tlscacert", file("ca.crt")});
    } else {
        extra_arguments_.push_back("--tls");
    }
    tls_ = true;
    return true;
}

bool nats_server::available() {
    return ::access(binary, X_OK) == 0;
}

nats_server::nats_server(std::vector<std::string> extra_arguments)
    : extra_arguments_(std::move(extra_arguments)),
      directory_(make_temp_directory()),
      port_(free_port()) {}

nats_server::~nats_server() {
    kill();
    if (!directory_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
}

void nats_server::join_cluster(const std::vector<std::uint16_t>& route_ports) {
    if (cluster_port_ == 0) {
        cluster_port_ = free_port();
    }
    routes_ = route_ports;
}

bool nats_server::start() {
    if (running()) {
        return true;
    }
    if (!available() || directory_.empty()) {
        return false;
    }
    std::vector<std::string> arguments{
        binary, "-a", "127.0.0.1", "-p", std::to_string(port_), "-l", directory_ + "/nats.log"};
    if (jetstream_) {
        // JetStream (the presence store's KV bucket), its files in the server's directory.
        arguments.insert(arguments.end(), {"-js", "-sd", directory_ + "/jetstream"});
    }
    if (cluster_port_ != 0) {
        // JetStream clusters need a name per node; the port makes it unique.
        std::string name = "n";  // (a literal + a string trips GCC 12 -Wrestrict)
        name += std::to_string(port_);
        arguments.insert(arguments.end(),
                         {"-n", name, "--cluster_name", "switchboard-test", "--cluster",
                          "nats://127.0.0.1:" + std::to_string(cluster_port_)});
        std::string routes;
        for (const auto route : routes_) {
            routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                      std::to_string(route);
        }
        if (!routes.empty()) {
            arguments.insert(arguments.end(), {"--routes", routes});
        }
    }
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
        ::dup2(null, STDERR_FILENO);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    return wait_ready();
}

void nats_server::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

bool nats_server::wait_ready() {
    return wait_until_answers(pid_, std::chrono::seconds(10), [this] { return greets(port_); });
}

nats_cluster::nats_cluster(std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        nodes_.push_back(std::make_unique<nats_server>());
    }
    std::vector<std::uint16_t> cluster_ports;
    for (auto& node : nodes_) {
        node->join_cluster({});
        cluster_ports.push_back(node->cluster_port());
    }
    for (std::size_t i = 0; i < size; ++i) {
        std::vector<std::uint16_t> others;
        for (std::size_t j = 0; j < size; ++j) {
            if (j != i) {
                others.push_back(cluster_ports[j]);
            }
        }
        nodes_[i]->join_cluster(others);
    }
}

bool nats_cluster::start() {
    for (auto& node : nodes_) {
        if (!node->start()) {
            return false;
        }
    }
    return true;
}

}  // namespace switchboard::testing
