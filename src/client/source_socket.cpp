#include "client/source_socket.hpp"

#include <boost/asio/socket_base.hpp>

#include <netinet/in.h>

namespace switchboard::client {

boost::system::error_code open_socket(boost::asio::ip::tcp::socket& socket,
                                      const boost::asio::ip::tcp::endpoint& server,
                                      const std::optional<boost::asio::ip::address>& source) {
    boost::system::error_code ec;
    socket.open(server.protocol(), ec);
    if (ec || !source) {
        return ec;
    }
#ifdef IP_BIND_ADDRESS_NO_PORT
    // Defer the port choice to connect(), where the kernel can reuse a port across
    // destinations: without it bind() reserves the port for every destination.
    using bind_no_port =
        boost::asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;
    boost::system::error_code ignored;
    socket.set_option(bind_no_port(true), ignored);
#endif
    socket.bind(boost::asio::ip::tcp::endpoint(*source, 0), ec);
    return ec;
}

}  // namespace switchboard::client
