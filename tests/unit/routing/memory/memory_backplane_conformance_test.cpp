// The scale-out specification on the in-memory bus: two routers sharing one memory_bus.
#include "../backplane_conformance.hpp"

#include "routing/memory/memory_backplane.hpp"

namespace switchboard::routing::conformance {
namespace {

struct memory_factory {
    static bool available() { return true; }
    void set_up() {}
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        return std::make_unique<memory_backplane>(bus, control.get_executor());
    }
    std::shared_ptr<memory_bus> bus = std::make_shared<memory_bus>();
};

INSTANTIATE_TYPED_TEST_SUITE_P(memory, backplane_conformance, memory_factory);

}  // namespace
}  // namespace switchboard::routing::conformance
