// transport_name apart from make_transport: no Asio, so the negotiate fuzzer builds it alone.
#include "client/transport/transport.hpp"

namespace switchboard::client {

std::string_view transport_name(transport_type type) noexcept {
    switch (type) {
    case transport_type::websockets:
        return "WebSockets";
    case transport_type::server_sent_events:
        return "ServerSentEvents";
    case transport_type::long_polling:
        return "LongPolling";
    default:
        return "";
    }
}

}  // namespace switchboard::client
