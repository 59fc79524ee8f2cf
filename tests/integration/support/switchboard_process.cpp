#include "switchboard_process.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::testing {

std::string sibling_binary(const std::string& name) {
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
}

switchboard_process::switchboard_process(std::string binary, std::vector<std::string> arguments,
                                         std::uint16_t port)
    : binary_(std::move(binary)), arguments_(std::move(arguments)), port_(port) {
    char path[] = "/tmp/switchboard-process-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) {
        throw std::runtime_error("mkstemp failed");
    }
    ::close(fd);
    log_path_ = path;
    launch();
}

switchboard_process::~switchboard_process() {
    end(SIGKILL);
    std::filesystem::remove(log_path_);
}

std::string switchboard_process::output() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void switchboard_process::launch() {
    std::vector<std::string> argv{binary_};
    argv.insert(argv.end(), arguments_.begin(), arguments_.end());
    argv.emplace_back("--listen");
    argv.push_back("127.0.0.1:" + std::to_string(port_));
    // The output goes to a file, never a pipe: a child that logs a lot must not block on it.
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
        std::vector<char*> raw;
        for (auto& a : argv) {
            raw.push_back(a.data());
        }
        raw.push_back(nullptr);
        ::execv(raw[0], raw.data());
        ::_exit(127);
    }
    ::close(log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    constexpr std::string_view marker = "switchboard listening on ";
    while (std::chrono::steady_clock::now() < deadline) {
        const auto text = output();
        if (const auto at = text.find(marker); at != std::string::npos) {
            const auto end = text.find('\n', at);
            if (end != std::string::npos) {
                url_ = text.substr(at + marker.size(), end - at - marker.size());
                port_ = static_cast<std::uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
                return;
            }
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error(binary_ + " exited before listening: " + text);
        }
        // The child needs the CPU to start: give it the core between looks.
        std::this_thread::yield();
    }
    end(SIGKILL);
    throw std::runtime_error(binary_ + " did not start listening within 30 s: " + output());
}

void switchboard_process::end(int signal) {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

void switchboard_process::stop() {
    end(SIGTERM);
}

void switchboard_process::kill() {
    end(SIGKILL);
}

void switchboard_process::restart() {
    end(SIGKILL);
    launch();
}

}  // namespace switchboard::testing
