// Incremental parser of a text/event-stream body: the data of each Server-Sent Event, whatever
// way the bytes are split across reads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::client::detail {

// Follows the WHATWG event-stream rules that matter for SignalR: lines end in \n or \r\n,
// `data:` lines (one optional space after the colon) join with \n, an empty line ends the
// event, comment lines (a leading ':') and every other field are ignored. An event without a
// data line is not an event.
class sse_parser {
public:
    // `max_event_size` bounds the data of one event and any unfinished line, so that a server
    // that never ends a line cannot grow the buffer without limit.
    explicit sse_parser(std::size_t max_event_size) noexcept : max_event_size_(max_event_size) {}

    // Parses `bytes` and appends the data of every event they complete to `events`. Returns the
    // error when an event is over the limit; the parser then ignores all further input.
    std::optional<std::string> feed(std::string_view bytes, std::vector<std::string>& events);

    // Bytes held for an unfinished line or event.
    [[nodiscard]] std::size_t buffered() const noexcept { return line_.size() + data_.size(); }

private:
    // One whole line without its terminator; false when it made the event too big.
    bool on_line(std::string_view line, std::vector<std::string>& events);
    std::optional<std::string> fail();

    std::string line_;  // a line begun in an earlier chunk
    std::string data_;  // the data lines of the current event, each followed by \n
    std::size_t max_event_size_;
    bool has_data_ = false;
    bool failed_ = false;
};

}  // namespace switchboard::client::detail
