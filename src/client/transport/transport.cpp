#include "client/transport/transport.hpp"

#include "client/transport/transports.hpp"

namespace switchboard::client {
namespace detail {

std::shared_ptr<transport> make_transport(transport_type type, http_context context,
                                          transport_listener& listener) {
    switch (type) {
    case transport_type::websockets:
        return make_websocket_transport(std::move(context), listener);
    case transport_type::server_sent_events:
        return make_sse_transport(std::move(context), listener);
    case transport_type::long_polling:
        return make_long_polling_transport(std::move(context), listener);
    default:
        return nullptr;  // none, all, or a mask of several: not one transport
    }
}

}  // namespace detail
}  // namespace switchboard::client
