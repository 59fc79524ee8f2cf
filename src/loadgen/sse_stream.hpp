// The load generator's cheap reader of an HTTP/1.1 event-stream response: status line and
// headers, a chunked or plain body, and of each Server-Sent Event only its first data line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace switchboard::loadgen {

// Fed whatever each read returned, however the bytes are split. It keeps no event bodies: a
// subscriber holds at most one unfinished line (its first `max_line` bytes; the timestamp sits
// at the start of the data), so thousands of subscribers cost the generator little.
class sse_stream_reader {
public:
    // Called for each event with data (the first data line, without "data:" and its space).
    using event_handler = std::function<void(std::string_view data)>;

    explicit sse_stream_reader(std::size_t max_line = 512) noexcept : max_line_(max_line) {}

    // False once the response is not a 200 event stream or its framing is broken; error()
    // says why, and further input is ignored.
    bool feed(std::string_view bytes, const event_handler& on_event);

    // The status line and headers were read, with status 200.
    [[nodiscard]] bool open() const noexcept { return state_ >= state::body; }
    [[nodiscard]] bool failed() const noexcept { return state_ == state::failed; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] bool chunked() const noexcept { return chunked_; }
    // Events with data, and comment lines (": keep-alive", Nchan's ": hi").
    [[nodiscard]] std::uint64_t events() const noexcept { return events_; }
    [[nodiscard]] std::uint64_t comments() const noexcept { return comments_; }

private:
    enum class state : unsigned char { headers, body, chunk_size, chunk_data, chunk_end, failed };

    bool fail(std::string reason);
    // One header line (no terminator); the empty line ends the head.
    bool on_header_line(std::string_view line);
    // Body bytes after any chunk framing.
    void on_body(std::string_view bytes, const event_handler& on_event);
    void on_line(std::string_view line, const event_handler& on_event);
    // Appends to line_ up to max_line_ bytes; the rest of an overlong line is dropped.
    void keep(std::string_view part);
    // The same for frame_.
    void keep_frame(std::string_view part);

    std::size_t max_line_;
    state state_ = state::headers;
    std::string line_;    // an event-stream line begun in an earlier read
    bool carry_ = false;  // line_ holds such a line (it may be empty after truncation)
    // A head or chunk-framing line begun in an earlier read: kept apart from line_, since a
    // chunk boundary may fall inside an event-stream line.
    std::string frame_;
    bool frame_carry_ = false;
    bool saw_status_ = false;
    bool chunked_ = false;
    bool pending_cr_ = false;  // the body's last byte was '\r': a following '\n' is the same end
    std::uint64_t chunk_left_ = 0;
    std::string data_;  // the first data line of the current event; kept for its capacity
    bool has_data_ = false;
    std::uint64_t events_ = 0;
    std::uint64_t comments_ = 0;
    std::string error_;
};

// The generator's payload inside an event's data: Switchboard wraps it as
// {"channel":...,"data":"<payload>"}, Nchan sends the published body as it is.
std::string_view payload_of_event(std::string_view data) noexcept;

}  // namespace switchboard::loadgen
