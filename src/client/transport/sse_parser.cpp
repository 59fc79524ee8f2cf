#include "client/transport/sse_parser.hpp"

namespace switchboard::client::detail {

namespace {

// A data line is its data plus "data: " and "\r": a line may be that much longer than the
// largest event before it is refused.
constexpr std::size_t line_overhead = 7;

}  // namespace

std::optional<std::string> sse_parser::feed(std::string_view bytes,
                                            std::vector<std::string>& events) {
    if (failed_) {
        return std::nullopt;
    }
    while (!bytes.empty()) {
        const auto end = bytes.find('\n');
        if (end == std::string_view::npos) {
            if (line_.size() + bytes.size() > max_event_size_ + line_overhead) {
                return fail();
            }
            line_.append(bytes);
            return std::nullopt;
        }
        std::string_view line = bytes.substr(0, end);
        bytes.remove_prefix(end + 1);
        // The same bound as for an unfinished line, so that where reads split a stream never
        // changes whether it fails.
        if (line_.size() + line.size() > max_event_size_ + line_overhead) {
            return fail();
        }
        if (!line_.empty()) {
            line_.append(line);
            line = line_;
        }
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const bool ok = on_line(line, events);
        line_.clear();
        if (!ok) {
            return fail();
        }
    }
    return std::nullopt;
}

bool sse_parser::on_line(std::string_view line, std::vector<std::string>& events) {
    if (line.empty()) {
        if (has_data_) {
            data_.pop_back();  // the \n after the last data line
            events.push_back(std::move(data_));
            data_.clear();
            has_data_ = false;
        }
        return true;
    }
    if (line.front() == ':') {
        return true;  // a comment: the server's keep-alive and its first flush
    }
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    if (field != "data") {
        return true;  // event, id, retry: SignalR sends none and needs none
    }
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
    }
    if (data_.size() + value.size() + 1 > max_event_size_ + 1) {  // + 1: the \n dropped at the end
        return false;
    }
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
    return true;
}

std::optional<std::string> sse_parser::fail() {
    failed_ = true;
    line_.clear();
    data_.clear();
    return "Server-Sent Event exceeds the maximum message size of " +
           std::to_string(max_event_size_) + " bytes.";
}

}  // namespace switchboard::client::detail
