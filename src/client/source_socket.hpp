// Opening a client socket from a chosen source address, shared by the hub and peer clients.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <optional>

namespace switchboard::client {

// Opens `socket` for `server`'s protocol and, with a `source`, binds it there (port chosen at
// connect). Spreading connections over 127.0.0.x sources gives each its own ephemeral ports.
boost::system::error_code open_socket(boost::asio::ip::tcp::socket& socket,
                                      const boost::asio::ip::tcp::endpoint& server,
                                      const std::optional<boost::asio::ip::address>& source);

}  // namespace switchboard::client
