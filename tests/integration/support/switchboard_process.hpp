// A switchboard binary (the server or the conformance app) run as a child process for a test:
// started on a free port (or a given one), ready once it printed its URL, stopped at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace switchboard::testing {

// The path of a binary built next to the running test executable (build/<name>).
std::string sibling_binary(const std::string& name);

class switchboard_process {
public:
    // Runs `binary` with `arguments` (no --listen: this adds --listen 127.0.0.1:<port>, port 0
    // for any free one) and waits up to 30 s for "switchboard listening on <url>". Throws
    // std::runtime_error with the child's output when it exits or stays silent instead.
    switchboard_process(std::string binary, std::vector<std::string> arguments,
                        std::uint16_t port = 0);
    ~switchboard_process();
    switchboard_process(const switchboard_process&) = delete;
    switchboard_process& operator=(const switchboard_process&) = delete;

    [[nodiscard]] const std::string& url() const noexcept { return url_; }  // http://127.0.0.1:N
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    // SIGTERM (a drain) or SIGKILL (a crash), then waits for the exit.
    void stop();
    void kill();
    // Starts it again on the same port, e.g. after stop() to test reconnection.
    void restart();
    // What it printed so far.
    [[nodiscard]] std::string output() const;

private:
    void launch();
    void end(int signal);

    std::string binary_;
    std::vector<std::string> arguments_;
    std::string log_path_;
    std::string url_;
    std::uint16_t port_;
    pid_t pid_ = -1;
};

}  // namespace switchboard::testing
