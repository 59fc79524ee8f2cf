#include "events/snapshot.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <memory>

namespace switchboard::events {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

expected<snapshot_source> parse_snapshot_source(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) {
        return make_error("expected PATTERN=URL, e.g. game:*=http://api:8080/games/{channel}");
    }
    snapshot_source source{std::string(text.substr(0, equals)),
                           std::string(text.substr(equals + 1))};
    // Checked with its placeholders filled in: "{" and "}" are not URL characters.
    const auto sample = expand_snapshot_url(source.url, "c", "u");
    const auto url = boost::urls::parse_uri(sample);
    if (!url || url->scheme() != "http" || !url->has_authority() || url->host().empty()) {
        return make_error("the snapshot URL must be an http:// URL: " + source.url);
    }
    return source;
}

std::string expand_snapshot_url(std::string_view url, std::string_view channel,
                                std::string_view user) {
    std::string out;
    for (std::size_t at = 0; at < url.size();) {
        const auto place = [&](std::string_view name, std::string_view value) {
            if (url.substr(at, name.size()) != name) {
                return false;
            }
            out += boost::urls::encode(value, boost::urls::unreserved_chars);
            at += name.size();
            return true;
        };
        if (!place("{channel}", channel) && !place("{user}", user)) {
            out.push_back(url[at++]);
        }
    }
    return out;
}

namespace {

// One GET: resolve, connect, write, read, each under the one deadline of the stream.
struct snapshot_request : std::enable_shared_from_this<snapshot_request> {
    snapshot_request(asio::any_io_executor executor, std::function<void(expected<std::string>)> d)
        : resolver(executor), stream(executor), done(std::move(d)) {}

    void fail(std::string what, beast::error_code ec) {
        what += ": ";
        what += ec == beast::error::timeout ? std::string("timed out") : ec.message();
        finish(make_error(std::move(what)));
    }
    void finish(expected<std::string> outcome) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        if (auto handler = std::exchange(done, nullptr)) {
            handler(std::move(outcome));
        }
    }

    tcp::resolver resolver;
    beast::tcp_stream stream;
    bhttp::request<bhttp::empty_body> request;
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    std::function<void(expected<std::string>)> done;
};

}  // namespace

void fetch_snapshot(asio::any_io_executor executor, std::string url, std::string authorization,
                    std::chrono::milliseconds timeout, std::size_t body_limit,
                    std::function<void(expected<std::string>)> done) {
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed || parsed->scheme() != "http") {
        // Never inline: the caller finishes setting up before any answer arrives.
        return asio::post(executor, [done = std::move(done), url] {
            done(make_error("not an http:// URL: " + url));
        });
    }
    auto op = std::make_shared<snapshot_request>(executor, std::move(done));
    std::string target(parsed->encoded_path());
    if (target.empty()) {
        target = "/";
    }
    if (parsed->has_query()) {
        target += '?';
        target += parsed->encoded_query();
    }
    op->request = {bhttp::verb::get, target, 11};
    op->request.set(bhttp::field::host, parsed->encoded_host_and_port());
    op->request.set(bhttp::field::accept, "application/json");
    if (!authorization.empty()) {
        op->request.set(bhttp::field::authorization, authorization);
    }
    op->request.keep_alive(false);
    op->parser.body_limit(body_limit);
    op->stream.expires_after(timeout);
    const std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
    op->resolver.async_resolve(
        std::string(parsed->host()), port,
        [op](beast::error_code ec, const tcp::resolver::results_type& results) {
            if (ec) {
                return op->fail("resolving the snapshot host", ec);
            }
            op->stream.async_connect(results, [op](beast::error_code error, const tcp::endpoint&) {
                if (error) {
                    return op->fail("connecting to the snapshot service", error);
                }
                bhttp::async_write(op->stream, op->request, [op](beast::error_code e, std::size_t) {
                    if (e) {
                        return op->fail("sending the snapshot request", e);
                    }
                    bhttp::async_read(
                        op->stream, op->buffer, op->parser, [op](beast::error_code r, std::size_t) {
                            if (r) {
                                return op->fail("reading the snapshot", r);
                            }
                            const auto& response = op->parser.get();
                            if (response.result() != bhttp::status::ok) {
                                return op->finish(
                                    make_error("the snapshot service answered " +
                                               std::to_string(response.result_int())));
                            }
                            boost::system::error_code json_error;
                            const auto value = boost::json::parse(response.body(), json_error);
                            if (json_error) {
                                return op->finish(make_error("the snapshot is not JSON"));
                            }
                            op->finish(boost::json::serialize(value));
                        });
                });
            });
        });
}

}  // namespace switchboard::events
