// Immutable, reference-counted bytes: one encoding shared by every recipient's send queue.
#pragma once

#include <memory>
#include <string>

namespace switchboard {

// Invariant: never mutated after construction, so any thread may read it while others hold it.
using shared_buffer = std::shared_ptr<const std::string>;

inline shared_buffer make_shared_buffer(std::string bytes) {
    return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace switchboard
