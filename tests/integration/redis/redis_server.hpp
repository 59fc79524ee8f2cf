// Test fixture helper: a private redis-server process on a free port in a temp dir.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace switchboard::testing {

// Never the system service: each instance has its own port, directory and lifetime, so tests
// may kill and restart it.
class redis_server {
public:
    // extra_arguments: e.g. {"--requirepass", "secret"}.
    explicit redis_server(std::vector<std::string> extra_arguments = {});
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    // Before start(): generates a CA, a server certificate (for 127.0.0.1 and localhost), a
    // client certificate and an unrelated second CA in the server's directory with the
    // openssl CLI, and serves TLS on tls_port() besides the plain port (which the fixture's
    // own helpers keep using). False when openssl is missing or failed.
    bool enable_tls(bool require_client_certificates = false);
    // A file in the server's directory: "ca.crt", "other-ca.crt", "client.crt", "client.key".
    [[nodiscard]] std::string file(const std::string& name) const {
        return directory_ + "/" + name;
    }
    [[nodiscard]] std::uint16_t tls_port() const noexcept { return tls_port_; }

    // Starts on port() and returns once it answers PING (or NOAUTH); false after a deadline.
    bool start();
    // SIGKILL, as a crash: no goodbye on the clients' sockets beyond the kernel's reset.
    void kill();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

    // A command over a short-lived synchronous hiredis connection; the integer reply, or -1.
    long long integer_command(const std::string& password, const std::vector<std::string>& argv);
    // The same for a status, string or error reply (its text); empty when none came.
    std::string string_command(const std::vector<std::string>& argv);

    static bool available();
    // Where the fixtures write temporary files (servers' directories).
    static std::string make_temp_directory();
    // A port nothing listens on now (the kernel's pick for a bind to port 0).
    static std::uint16_t free_port();

private:
    bool wait_ready();

    std::vector<std::string> extra_arguments_;
    std::string directory_;
    std::uint16_t port_ = 0;
    std::uint16_t tls_port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace switchboard::testing
