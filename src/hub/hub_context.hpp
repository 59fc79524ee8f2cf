// What a hub method sees: the caller's identity, and the ways to reach other clients and
// manage groups (ASP.NET's Hub.Context, Hub.Clients and Hub.Groups).
#pragma once

#include "routing/router.hpp"
#include "transport/connection.hpp"

#include <boost/json/value_from.hpp>

#include <string>
#include <utility>
#include <vector>

namespace switchboard::hub {

// A set of recipients; send() encodes the invocation once per protocol in use.
class client_proxy {
public:
    client_proxy(routing::router& router, routing::hub_id hub, routing::audience to)
        : router_(router), hub_(hub), to_(std::move(to)) {}

    // Invokes `target` on every recipient with JSON-convertible arguments (no reply expected).
    template <class... Args>
    void send(std::string target, Args&&... args) {
        boost::json::array arguments;
        arguments.reserve(sizeof...(Args));
        (arguments.push_back(boost::json::value_from(std::forward<Args>(args))), ...);
        send_arguments(std::move(target), std::move(arguments));
    }
    void send_arguments(std::string target, boost::json::array arguments) {
        router_.send(hub_, std::move(to_),
                     routing::make_message(std::move(target), std::move(arguments)));
    }

private:
    routing::router& router_;
    routing::hub_id hub_;
    routing::audience to_;
};

// Thread safety: valid only during the call it was passed to, on the caller's shard.
class hub_context {
public:
    using ids = std::vector<std::string>;

    hub_context(routing::router& router, routing::hub_id hub, const std::string& connection_id,
                const std::string& user_id, const transport::request_info& request)
        : router_(router),
          hub_(hub),
          connection_id_(connection_id),
          user_id_(user_id),
          request_(request) {}

    [[nodiscard]] const std::string& connection_id() const noexcept { return connection_id_; }
    // Empty for anonymous connections.
    [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }
    // The HTTP request that opened the connection (query parameters, remote address).
    [[nodiscard]] const transport::request_info& request() const noexcept { return request_; }

    /*---- Clients -------------------------------------------------------------------------*/
    client_proxy all() { return proxy(routing::audience::all_except()); }
    client_proxy all_except(ids excluded) {
        return proxy(routing::audience::all_except(std::move(excluded)));
    }
    client_proxy caller() { return proxy(routing::audience::connections({connection_id_})); }
    client_proxy others() { return proxy(routing::audience::all_except({connection_id_})); }
    client_proxy client(std::string id) {
        return proxy(routing::audience::connections({std::move(id)}));
    }
    client_proxy clients(ids connection_ids) {
        return proxy(routing::audience::connections(std::move(connection_ids)));
    }
    client_proxy group(std::string name) {
        return proxy(routing::audience::groups({std::move(name)}));
    }
    client_proxy groups(ids names) { return proxy(routing::audience::groups(std::move(names))); }
    client_proxy group_except(std::string name, ids excluded) {
        return proxy(routing::audience::groups({std::move(name)}, std::move(excluded)));
    }
    client_proxy others_in_group(std::string name) {
        return proxy(routing::audience::groups({std::move(name)}, {connection_id_}));
    }
    client_proxy user(std::string id) { return proxy(routing::audience::users({std::move(id)})); }
    client_proxy users(ids user_ids) {
        return proxy(routing::audience::users(std::move(user_ids)));
    }

    /*---- Groups --------------------------------------------------------------------------*/
    void add_to_group(const std::string& connection_id, const std::string& group) {
        router_.add_to_group(hub_, connection_id, group);
    }
    void remove_from_group(const std::string& connection_id, const std::string& group) {
        router_.remove_from_group(hub_, connection_id, group);
    }

private:
    client_proxy proxy(routing::audience to) { return {router_, hub_, std::move(to)}; }

    routing::router& router_;
    routing::hub_id hub_;
    const std::string& connection_id_;
    const std::string& user_id_;
    const transport::request_info& request_;
};

}  // namespace switchboard::hub
