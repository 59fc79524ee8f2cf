#include "loadgen/scenario.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace switchboard::loadgen {

namespace {

constexpr std::array<std::pair<std::string_view, scenario>, 8> names{{
    {"echo", scenario::echo},
    {"broadcast", scenario::broadcast},
    {"group", scenario::group},
    {"big-group", scenario::big_group},
    {"connection", scenario::connection},
    {"idle", scenario::idle},
    {"sse", scenario::sse},
    {"sse-idle", scenario::sse_idle},
}};

constexpr std::size_t timestamp_digits = 20;

expected<boost::asio::ip::address> loopback_address(std::string_view text) {
    // Messages built with append(): GCC 12 flags operator+ chains on strings (-Wrestrict, a
    // false alarm).
    std::string quoted = "'";
    quoted.append(text).append("'");
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) {
        return make_error(quoted.append(" is not an IP address"));
    }
    if (!address.is_loopback()) {
        return make_error(
            quoted.append(" is not a loopback address: the generator loads this machine only"));
    }
    return address;
}

}  // namespace

expected<scenario> parse_scenario(std::string_view name) {
    for (const auto& [text, kind] : names) {
        if (text == name) {
            return kind;
        }
    }
    return make_error(
        "unknown scenario '" + std::string(name) +
        "' (expected echo, broadcast, group, big-group, connection, idle, sse or sse-idle)");
}

expected<system_kind> parse_system(std::string_view name) {
    if (name == "switchboard") {
        return system_kind::switchboard;
    }
    if (name == "socketio") {
        return system_kind::socketio;
    }
    if (name == "nchan") {
        return system_kind::nchan;
    }
    return make_error("unknown target '" + std::string(name) +
                      "' (expected switchboard, socketio or nchan)");
}

std::string_view system_name(system_kind kind) noexcept {
    switch (kind) {
    case system_kind::switchboard:
        return "switchboard";
    case system_kind::socketio:
        return "socketio";
    case system_kind::nchan:
        return "nchan";
    }
    return "?";
}

std::optional<std::string> unsupported(system_kind kind, scenario scenario) {
    // Nchan publishes over HTTP: nothing comes back to the publisher, so there is no echo.
    if (kind == system_kind::nchan && scenario == scenario::echo) {
        return std::string(
            "--target nchan cannot run echo: Nchan's publisher is an HTTP POST, nothing "
            "returns to the sender (bench/peers/README.md); use connection instead");
    }
    if (kind == system_kind::socketio && is_sse(scenario)) {
        return std::string(
            "--target socketio has no Server-Sent Events: sse runs against "
            "switchboard or nchan");
    }
    return std::nullopt;
}

std::string_view scenario_name(scenario kind) noexcept {
    for (const auto& [text, value] : names) {
        if (value == kind) {
            return text;
        }
    }
    return "?";
}

expected<target> parse_target(std::string_view url) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return make_error("--url: '" + std::string(url) + "' is not a URL");
    }
    const auto scheme = parsed->scheme();
    if (scheme != "http" && scheme != "ws") {
        return make_error("--url: use http:// or ws:// (TLS is not supported by the generator)");
    }
    std::string host = parsed->host_address();
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    auto address = loopback_address(host);
    if (!address) {
        return make_error("--url: " + address.error_message());
    }
    const std::uint16_t port = parsed->has_port() ? parsed->port_number() : 80;
    target out;
    out.endpoint = boost::asio::ip::tcp::endpoint(*address, port);
    out.host = std::string(parsed->encoded_host_and_port());
    out.path = std::string(parsed->encoded_path());
    if (out.path.empty() || out.path == "/") {
        out.path = "/hubs/chat";
    }
    return out;
}

expected<std::vector<boost::asio::ip::address>> parse_source_addresses(std::string_view text) {
    std::vector<boost::asio::ip::address> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        const auto dash = item.find('-');
        auto first = loopback_address(item.substr(0, dash));
        if (!first) {
            return make_error("--source-addresses: " + first.error_message());
        }
        if (dash == std::string_view::npos) {
            out.push_back(*first);
            continue;
        }
        auto last = loopback_address(item.substr(dash + 1));
        if (!last) {
            return make_error("--source-addresses: " + last.error_message());
        }
        if (!first->is_v4() || !last->is_v4() ||
            last->to_v4().to_uint() < first->to_v4().to_uint() ||
            last->to_v4().to_uint() - first->to_v4().to_uint() > 65'536) {
            return make_error("--source-addresses: '" + std::string(item) +
                              "' is not an ascending IPv4 range");
        }
        for (auto a = first->to_v4().to_uint(); a <= last->to_v4().to_uint(); ++a) {
            out.emplace_back(boost::asio::ip::address_v4(a));
        }
    }
    return out;
}

plan::plan(const bench_options& options)
    : kind_(options.kind),
      system_(options.system),
      connections_(options.connections),
      channels_(std::max<std::size_t>(1, options.channels)),
      instances_(std::max<std::size_t>(1, options.urls.size())),
      run_id_(options.run_id) {
    if (kind_ == scenario::idle || kind_ == scenario::sse_idle || connections_ == 0) {
        senders_ = 0;
    } else if (options.senders != 0) {
        senders_ = std::min(options.senders, connections_);
    } else if (kind_ == scenario::sse) {
        // One publisher per channel: every channel gets --rate events per second.
        senders_ = std::min(channels_, connections_);
    } else {
        const bool fan_out = kind_ == scenario::broadcast || kind_ == scenario::big_group;
        senders_ = fan_out ? 1 : connections_;
    }
}

// Sender k sits at index floor(k * connections / senders): evenly spread, so that in the group
// scenario the senders fall into different groups.
bool plan::is_sender(std::size_t index) const noexcept {
    if (senders_ == 0 || index >= connections_) {
        return false;
    }
    const auto k = sender_ordinal(index);
    return k < senders_ && k * connections_ / senders_ == index;
}

std::size_t plan::sender_ordinal(std::size_t index) const noexcept {
    return senders_ == 0 ? 0 : (index * senders_ + connections_ - 1) / connections_;  // ceil
}

double plan::phase_of(std::size_t index) const noexcept {
    return connections_ == 0 ? 0.0 : static_cast<double>(index) / static_cast<double>(connections_);
}

std::size_t plan::instance_of(std::size_t index) const noexcept {
    return index % instances_;
}

std::size_t plan::publish_instance_of(std::size_t index) const noexcept {
    if (system_ == system_kind::nchan) {
        return 0;
    }
    // Event publishers take turns by ordinal: with every other connection a sender, instance_of
    // would put them all on the first instance.
    return is_sse(kind_) ? sender_ordinal(index) % instances_ : instance_of(index);
}

std::string plan::user_of(std::size_t index) const {
    std::string out = "bench-";
    out.append(run_id_).append("-").append(std::to_string(index));
    return out;
}

std::string plan::group_of(std::size_t index) const {
    switch (kind_) {
    case scenario::group:
        return user_of(0).append("g").append(std::to_string(index / group_size));
    case scenario::big_group:
        return user_of(0).append("all");
    default:
        return {};
    }
}

std::uint64_t plan::fanout_of(std::size_t index) const noexcept {
    switch (kind_) {
    case scenario::echo:
        return 1;
    case scenario::broadcast:
    case scenario::big_group:
        return connections_;
    case scenario::group: {
        const auto first = index / group_size * group_size;
        return std::min(group_size, connections_ - first);
    }
    case scenario::connection:
        // The chat hub (and the Socket.IO peer) copies a direct message to the sender's own
        // connections too; a Nchan channel per user has no such copy.
        return connections_ > 1 && system_ != system_kind::nchan ? 2 : 1;
    case scenario::sse: {
        // Subscribers i with i % channels == c.
        const auto c = sse_publish_channel_number(index);
        return c < connections_ ? (connections_ - c + channels_ - 1) / channels_ : 0;
    }
    case scenario::idle:
    case scenario::sse_idle:
        return 0;
    }
    return 0;
}

void plan::message_from(std::size_t index, std::string text, std::string_view& method,
                        boost::json::array& arguments) const {
    arguments.clear();
    switch (kind_) {
    case scenario::echo:
        method = "SendToUser";
        arguments.emplace_back(user_of(index));
        break;
    case scenario::connection:
        method = "SendToUser";
        arguments.emplace_back(user_of((index + 1) % connections_));
        break;
    case scenario::group:
    case scenario::big_group:
        method = "SendToGroup";
        arguments.emplace_back(group_of(index));
        break;
    case scenario::broadcast:
    case scenario::idle:
    case scenario::sse:
    case scenario::sse_idle:
        method = "SendMessage";
        break;
    }
    arguments.emplace_back(std::move(text));
}

void plan::socketio_message_from(std::size_t index, std::string_view text, std::string& out) const {
    // Payloads are digits and dots, user and group names word characters: no JSON escapes.
    const auto quoted = [&out](std::string_view value) {
        out.append("\"").append(value).append("\"");
    };
    out.assign("2[");
    switch (kind_) {
    case scenario::echo:
        out.append(R"("echo",)");
        break;
    case scenario::connection:
        out.append(R"("direct",)");
        quoted(user_of((index + 1) % connections_));
        out += ',';
        break;
    case scenario::group:
    case scenario::big_group:
        out.append(R"("group send",)");
        quoted(group_of(index));
        out += ',';
        break;
    case scenario::broadcast:
    case scenario::idle:
    case scenario::sse:
    case scenario::sse_idle:
        out.append(R"("broadcast",)");
        break;
    }
    quoted(text);
    out += ']';
}

std::string plan::socketio_join(std::size_t index) const {
    return R"(20["group join",")" + group_of(index) + "\"]";
}

std::string plan::nchan_subscribe_channel(std::size_t index) const {
    switch (kind_) {
    case scenario::broadcast:
    case scenario::big_group:
    case scenario::idle:
        return user_of(0).append("all");
    case scenario::group:
        return group_of(index);
    case scenario::echo:
    case scenario::connection:
        return user_of(index);
    case scenario::sse:
    case scenario::sse_idle:
        return sse_channel_name(sse_channel_number(index));
    }
    return {};
}

std::string plan::nchan_publish_channel(std::size_t index) const {
    return kind_ == scenario::connection ? user_of((index + 1) % connections_)
                                         : nchan_subscribe_channel(index);
}

std::size_t plan::sse_channel_number(std::size_t index) const noexcept {
    return index % channels_;
}

std::size_t plan::sse_publish_channel_number(std::size_t index) const noexcept {
    return sender_ordinal(index) % channels_;
}

std::string plan::sse_channel_name(std::size_t number) const {
    return user_of(0).append("-sse").append(std::to_string(number));
}

std::string plan::sse_subscribe_target(std::size_t index) const {
    // Nchan's EventSource location (bench/peers/nchan); Switchboard's path form (docs/events.md).
    std::string target = system_ == system_kind::nchan ? "/sse/" : "/events/";
    return target.append(sse_channel_name(sse_channel_number(index)));
}

void plan::sse_publish_request(std::size_t index, std::string_view text, std::string& target,
                               std::string& body) const {
    const auto channel = sse_channel_name(sse_publish_channel_number(index));
    if (system_ == system_kind::nchan) {
        // Nchan sends the body as the event's data.
        target.assign("/pub/").append(channel);
        body.assign(text);
        return;
    }
    // The payload is digits and dots: no JSON escapes needed.
    target.assign("/api/events/").append(channel);
    body.assign(R"({"type":"bench","data":")").append(text).append("\"}");
}

void write_payload(std::uint64_t send_ns, std::size_t size, std::string& out,
                   std::optional<std::size_t> origin) {
    std::array<char, timestamp_digits> digits;
    digits.fill('0');
    std::array<char, timestamp_digits> raw{};
    const auto [end, ec] = std::to_chars(raw.data(), raw.data() + raw.size(), send_ns);
    const auto length = static_cast<std::size_t>(end - raw.data());
    std::copy(raw.data(), end, digits.data() + (timestamp_digits - length));
    out.assign(digits.data(), digits.size());
    if (origin) {
        std::array<char, 20> index{};
        const auto [last, ignored] =
            std::to_chars(index.data(), index.data() + index.size(), *origin);
        const auto written = static_cast<std::size_t>(last - index.data());
        // Never beyond `size`: the message size is the benchmark's parameter.
        if (out.size() + written <= size) {
            out.append(index.data(), written);
        }
    }
    if (size > out.size()) {
        out.append(size - out.size(), '.');
    }
}

std::optional<std::uint64_t> read_payload(std::string_view text) noexcept {
    if (text.size() < timestamp_digits) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + timestamp_digits, value);
    if (ec != std::errc() || end != text.data() + timestamp_digits) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::size_t> read_origin(std::string_view text) noexcept {
    if (text.size() <= timestamp_digits) {
        return std::nullopt;
    }
    std::size_t value = 0;
    const auto* first = text.data() + timestamp_digits;
    const auto [end, ec] = std::from_chars(first, text.data() + text.size(), value);
    if (ec != std::errc() || end == first) {
        return std::nullopt;
    }
    return value;
}

bool crossed_instances(std::optional<std::size_t> origin, std::size_t instance,
                       std::size_t instances) noexcept {
    return instances > 1 && origin && *origin != instance;
}

std::uint64_t steady_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace switchboard::loadgen
