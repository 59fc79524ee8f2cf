// Test fixture helper: a throwaway PostgreSQL cluster (initdb) on a free port in a temp dir.
#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace switchboard::testing {

// Never the system service: each instance has its own cluster, port and lifetime, so tests may
// kill and restart it. PostgreSQL refuses to run as root: as root, the cluster belongs to the
// `postgres` user and its programs run as that user.
class postgres_server {
public:
    postgres_server();
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    // Before start(): a CA ("ca.crt") and a server certificate for 127.0.0.1 and localhost made
    // with the openssl CLI, and ssl=on. False when openssl failed.
    bool enable_tls();
    [[nodiscard]] std::string file(const std::string& name) const {
        return directory_ + "/" + name;
    }

    // Creates the cluster on first use, starts it on port() and returns once it accepts a
    // connection; false after a deadline.
    bool start();
    // SIGKILL to the whole process group, as a crash: the next start() recovers the cluster.
    void kill();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
    // "host=127.0.0.1 port=P dbname=postgres user=postgres"
    [[nodiscard]] std::string conninfo() const;

    // One statement over a short-lived blocking connection (test thread only); the first
    // value of the first row, "" for none; nullopt-like "ERROR: ..." text on failure.
    std::string query(const std::string& sql);

    static bool available();

private:
    bool initialize();
    bool wait_ready();

    std::string directory_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    bool initialized_ = false;
    bool tls_ = false;
};

}  // namespace switchboard::testing
