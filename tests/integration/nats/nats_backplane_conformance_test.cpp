// The backplane conformance suite on a real nats-server.
#include "../../unit/routing/backplane_conformance.hpp"
#include "nats_server.hpp"
#include "routing/nats/nats_backplane.hpp"

namespace switchboard::routing::conformance {
namespace {

struct nats_factory {
    static bool available() { return testing::nats_server::available(); }
    void set_up() { ASSERT_TRUE(server.start()); }
    std::unique_ptr<backplane> make(boost::asio::io_context& control) {
        nats::backplane_options options;
        options.connection = nats::parse_connection_string(server.url());
        return std::make_unique<nats::nats_backplane>(control, std::move(options));
    }
    testing::nats_server server;
};

INSTANTIATE_TYPED_TEST_SUITE_P(nats, backplane_conformance, nats_factory);

}  // namespace
}  // namespace switchboard::routing::conformance
