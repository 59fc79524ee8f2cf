#include "test_certificates.hpp"

#include <cstdlib>
#include <fstream>

namespace switchboard::testing {

bool make_test_certificates(const std::string& directory) {
    const auto file = [&](const std::string& name) { return directory + "/" + name; };
    const auto log = file("openssl.log");
    // Fixed, fixture-made arguments (temp paths without spaces): a shell line is safe here.
    const auto run = [&](const std::string& command) {
        return std::system((command + " >>" + log + " 2>&1").c_str()) == 0;
    };
    // P-256 keys: generated in milliseconds, where RSA would cost the test run seconds.
    const std::string new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const auto make_ca = [&](const std::string& name) {
        return run("openssl req -x509 " + new_key + " -keyout " + file(name + ".key") + " -out " +
                   file(name + ".crt") + " -days 2 -subj /CN=" + name);
    };
    const auto make_signed = [&](const std::string& name, const std::string& extensions,
                                 int serial) {
        const auto extensions_file = file(name + ".ext");
        std::ofstream(extensions_file) << extensions << "\n";
        return run("openssl req " + new_key + " -keyout " + file(name + ".key") + " -out " +
                   file(name + ".csr") + " -subj /CN=" + name) &&
               run("openssl x509 -req -in " + file(name + ".csr") + " -CA " + file("ca.crt") +
                   " -CAkey " + file("ca.key") + " -set_serial " + std::to_string(serial) +
                   " -days 2 -out " + file(name + ".crt") + " -extfile " + extensions_file);
    };
    return make_ca("ca") && make_ca("other-ca") &&
           make_signed("server", "subjectAltName=IP:127.0.0.1,DNS:localhost", 1) &&
           make_signed("client", "extendedKeyUsage=clientAuth", 2);
}

}  // namespace switchboard::testing
