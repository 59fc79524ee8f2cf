// The composition root of the pluggable backends: which buses this build has, by CMake option.
#pragma once

#include "routing/backplane_factory.hpp"

namespace switchboard {

// Every backplane compiled in, memory first. Built on first use, then read-only. A presence
// store factory, when it comes, is filled here beside it by the same backend options.
[[nodiscard]] const routing::backplane_factory& backplanes();

}  // namespace switchboard
