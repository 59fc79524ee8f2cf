#include "hub/guard.hpp"

#include <spdlog/spdlog.h>

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace switchboard::hub {

error describe_exception(const std::exception& thrown) {
    const char* mangled = typeid(thrown).name();
    int status = 0;
    const std::unique_ptr<char, void (*)(void*)> demangled(
        abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return make_error(thrown.what(), status == 0 && demangled ? demangled.get() : mangled);
}

error describe_unknown_exception() {
    // Not derived from std::exception: nothing to show but that it happened.
    return make_error("An exception of unknown type was thrown.", "Exception");
}

void report_user_error(const user_code_site& site, const error& failure,
                       switchboard::metrics* counters) noexcept {
    if (counters != nullptr) {
        counters->hub_errors_of(site.place).add();
    }
    spdlog::error("hub '{}': {} ({}) threw on connection {}: {}: {}", site.hub, site.method,
                  label_value(site.place), site.connection_id, failure.type, failure.message);
}

}  // namespace switchboard::hub
