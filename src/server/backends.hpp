// The composition root of the pluggable backends: which buses this build has, by CMake option.
#pragma once

#include "routing/backplane_factory.hpp"
#include "routing/publisher.hpp"

#include <cstddef>
#include <string>

namespace switchboard {

// Every backplane compiled in, memory first. Built on first use, then read-only. A presence
// store factory, when it comes, is filled here beside it by the same backend options.
[[nodiscard]] const routing::backplane_factory& backplanes();

// Builds the bus named by `spec` (any --backplane form) for a publisher: what a worker hands to
// routing::blocking_publisher. 16 MiB of publications wait while the bus reconnects, as a
// server's default --backplane-buffer-size. The maker throws what the factory throws.
[[nodiscard]] routing::blocking_publisher::bus_maker backplane_maker(
    std::string spec, std::size_t max_buffered_bytes = 16 * 1024 * 1024);

}  // namespace switchboard
