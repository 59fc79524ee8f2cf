// The one translation unit that compiles Asio and Beast (separate compilation keeps builds short).
#include <boost/asio/impl/src.hpp>
// Asio's OpenSSL glue (the https/wss listener, TLS to Redis), compiled here once like the rest.
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
