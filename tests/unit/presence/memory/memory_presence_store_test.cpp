// The memory presence store passes the presence conformance suite (one instance).
#include "presence/memory/memory_presence_store.hpp"

#include "../presence_conformance.hpp"

namespace switchboard::presence::conformance {
namespace {

struct memory_factory {
    static bool available() { return true; }
    static constexpr bool shared = false;
    void set_up() {}
    std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
        return std::make_unique<memory_store>(control, options.instance);
    }
};

INSTANTIATE_TYPED_TEST_SUITE_P(memory, presence_conformance, memory_factory);

}  // namespace
}  // namespace switchboard::presence::conformance
