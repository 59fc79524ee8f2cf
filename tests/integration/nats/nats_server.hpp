// Test fixture helper: private nats-server processes on free ports in temp dirs, alone or as
// a cluster.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace switchboard::testing {

// Never a system service: each instance has its own ports, directory and lifetime, so tests
// may kill it and start it again on the same port.
class nats_server {
public:
    explicit nats_server(std::vector<std::string> extra_arguments = {});
    ~nats_server();
    nats_server(const nats_server&) = delete;
    nats_server& operator=(const nats_server&) = delete;

    // Before start(): a cluster member listening for routes on cluster_port(), routing to
    // the given cluster ports (the other members').
    void join_cluster(const std::vector<std::uint16_t>& route_ports);

    // Before start(): makes a CA, a server certificate for 127.0.0.1, a client certificate and
    // an unrelated CA in the server's directory (openssl CLI) and serves TLS only, asking for
    // client certificates if `verify_clients`. False when openssl failed.
    bool enable_tls(bool verify_clients = false);
    // A file in the server's directory: "ca.crt", "other-ca.crt", "client.crt", "client.key".
    [[nodiscard]] std::string file(const std::string& name) const {
        return directory_ + "/" + name;
    }

    // Before start(): no JetStream (on by default, as the presence store needs it).
    void disable_jetstream() noexcept { jetstream_ = false; }

    // Starts on port() and returns once it sent its INFO line; false after a deadline or if
    // the process exited.
    bool start();
    // SIGKILL, as a crash.
    void kill();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::uint16_t cluster_port() const noexcept { return cluster_port_; }
    // "nats://127.0.0.1:port", or "tls://..." once TLS is enabled.
    [[nodiscard]] std::string url() const {
        return (tls_ ? "tls" : "nats") + std::string("://127.0.0.1:") + std::to_string(port_);
    }
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

    static bool available();
    static std::uint16_t free_port();

private:
    bool wait_ready();

    std::vector<std::string> extra_arguments_;
    std::string directory_;
    std::uint16_t port_ = 0;
    std::uint16_t cluster_port_ = 0;
    std::vector<std::uint16_t> routes_;
    bool tls_ = false;
    bool jetstream_ = true;
    pid_t pid_ = -1;
};

// n servers routed to each other (a full mesh of explicit routes).
class nats_cluster {
public:
    explicit nats_cluster(std::size_t size);
    bool start();
    nats_server& node(std::size_t i) { return *nodes_[i]; }

private:
    std::vector<std::unique_ptr<nats_server>> nodes_;
};

}  // namespace switchboard::testing
