#include "loadgen/sse_stream.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace switchboard::loadgen {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

bool sse_stream_reader::fail(std::string reason) {
    if (state_ != state::failed) {
        state_ = state::failed;
        error_ = std::move(reason);
    }
    return false;
}

void sse_stream_reader::keep(std::string_view part) {
    carry_ = true;
    const auto room = max_line_ > line_.size() ? max_line_ - line_.size() : 0;
    line_.append(part.substr(0, std::min(room, part.size())));
}

void sse_stream_reader::keep_frame(std::string_view part) {
    frame_carry_ = true;
    const auto room = max_line_ > frame_.size() ? max_line_ - frame_.size() : 0;
    frame_.append(part.substr(0, std::min(room, part.size())));
}

bool sse_stream_reader::feed(std::string_view bytes, const event_handler& on_event) {
    while (!bytes.empty()) {
        switch (state_) {
        case state::failed:
            return false;
        case state::body:
            on_body(bytes, on_event);
            return true;
        case state::chunk_data: {
            const auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(chunk_left_, static_cast<std::uint64_t>(bytes.size())));
            on_body(bytes.substr(0, n), on_event);
            bytes.remove_prefix(n);
            chunk_left_ -= n;
            if (chunk_left_ == 0) {
                state_ = state::chunk_end;
            }
            break;
        }
        case state::headers:
        case state::chunk_size:
        case state::chunk_end: {
            // Line-framed states: the head, a chunk's size line, the CRLF after its data.
            const auto end = bytes.find('\n');
            if (end == std::string_view::npos) {
                keep_frame(bytes);
                return true;
            }
            std::string_view line = bytes.substr(0, end);
            bytes.remove_prefix(end + 1);
            if (frame_carry_) {
                keep_frame(line);
                line = frame_;
            }
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            bool ok = true;
            if (state_ == state::headers) {
                ok = on_header_line(line);
            } else if (state_ == state::chunk_end) {
                ok = line.empty() ? (state_ = state::chunk_size, true)
                                  : fail("chunked body: no CRLF after a chunk");
            } else {
                const auto size = trim(line.substr(0, line.find(';')));
                std::uint64_t value = 0;
                const auto [last, ec] =
                    std::from_chars(size.data(), size.data() + size.size(), value, 16);
                if (size.empty() || ec != std::errc() || last != size.data() + size.size()) {
                    ok = fail("chunked body: bad chunk size");
                } else if (value == 0) {
                    ok = fail("the server ended the stream");
                } else {
                    chunk_left_ = value;
                    state_ = state::chunk_data;
                }
            }
            frame_.clear();
            frame_carry_ = false;
            if (!ok) {
                return false;
            }
            break;
        }
        }
    }
    return state_ != state::failed;
}

bool sse_stream_reader::on_header_line(std::string_view line) {
    if (!saw_status_) {
        // "HTTP/1.1 200 OK"
        saw_status_ = true;
        const auto space = line.find(' ');
        if (!line.starts_with("HTTP/1.") || space == std::string_view::npos) {
            return fail("not an HTTP/1.x response");
        }
        const auto code = line.substr(space + 1, 3);
        if (code != "200") {
            std::string reason = "HTTP ";
            reason.append(trim(line.substr(space + 1)));
            return fail(std::move(reason));
        }
        return true;
    }
    if (line.empty()) {
        state_ = chunked_ ? state::chunk_size : state::body;
        return true;
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos &&
        iequals(trim(line.substr(0, colon)), "transfer-encoding")) {
        // "chunked" is the last coding whenever it is there (RFC 9112 6.1); any case.
        const auto value = trim(line.substr(colon + 1));
        chunked_ = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    }
    return true;
}

void sse_stream_reader::on_body(std::string_view bytes, const event_handler& on_event) {
    if (pending_cr_ && !bytes.empty()) {
        pending_cr_ = false;
        if (bytes.front() == '\n') {
            bytes.remove_prefix(1);
        }
    }
    while (!bytes.empty()) {
        const auto end = bytes.find_first_of("\r\n");
        if (end == std::string_view::npos) {
            keep(bytes);
            return;
        }
        std::string_view line = bytes.substr(0, end);
        const char terminator = bytes[end];
        bytes.remove_prefix(end + 1);
        if (terminator == '\r') {
            // CRLF is one line end, even when the LF comes in the next read.
            if (bytes.empty()) {
                pending_cr_ = true;
            } else if (bytes.front() == '\n') {
                bytes.remove_prefix(1);
            }
        }
        if (carry_) {
            keep(line);
            line = line_;
        }
        on_line(line, on_event);
        line_.clear();
        carry_ = false;
    }
}

void sse_stream_reader::on_line(std::string_view line, const event_handler& on_event) {
    // Only the start of a line matters; a whole one may be longer when it came in one read.
    line = line.substr(0, std::min(line.size(), max_line_));
    if (line.empty()) {
        if (has_data_) {
            has_data_ = false;
            ++events_;
            on_event(data_);
        }
        return;
    }
    if (line.front() == ':') {
        ++comments_;
        return;
    }
    if (has_data_ || !line.starts_with("data")) {
        return;  // id:, event:, retry: and further data lines: the timestamp is in the first
    }
    auto value = line.substr(4);
    if (!value.empty()) {
        if (value.front() != ':') {
            return;  // a field named "data..." that is not data
        }
        value.remove_prefix(1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
    }
    data_.assign(value);
    has_data_ = true;
}

std::string_view payload_of_event(std::string_view data) noexcept {
    if (data.empty() || data.front() != '{') {
        return data;
    }
    // Switchboard's envelope: the channel comes first, then "data". The generator's channel
    // names hold no quotes, so the first "data":" is the envelope's.
    constexpr std::string_view key = R"("data":")";
    const auto at = data.find(key);
    return at == std::string_view::npos ? std::string_view() : data.substr(at + key.size());
}

}  // namespace switchboard::loadgen
