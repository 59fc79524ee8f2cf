// The three transports' factories, each in its own source file; make_transport picks one.
#pragma once

#include "client/transport/transport.hpp"

#include <memory>

namespace switchboard::client::detail {

std::shared_ptr<transport> make_websocket_transport(http_context context,
                                                    transport_listener& listener);
std::shared_ptr<transport> make_sse_transport(http_context context, transport_listener& listener);
std::shared_ptr<transport> make_long_polling_transport(http_context context,
                                                       transport_listener& listener);

}  // namespace switchboard::client::detail
