// Encoded bytes waiting for a backend's socket: one contiguous string plus large shared
// payloads by reference, handed to the socket as one gather write.
#pragma once

#include "core/shared_buffer.hpp"

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::routing::link {

// Appending allocates only when the string outgrows its capacity, which it keeps across
// writes. The bound is the caller's to check (fits()) before appending what may be refused:
// handshakes and control commands are small and always go in.
// Thread safety: none; the owning connection's shard.
class outbox {
public:
    // Bodies up to this size are copied in: a copy of a few hundred bytes costs less than a
    // gather entry of its own, and a write then carries thousands of commands (Asio hands a
    // socket at most 64 buffers per call). Larger ones stay shared with the other recipients.
    static constexpr std::size_t inline_body_limit = 4096;
    // A string that grew past this during a burst, an outage or one large message gives its
    // memory back once written.
    static constexpr std::size_t retained_capacity = 1024 * 1024;

    [[nodiscard]] bool empty() const noexcept { return commands_ == 0; }
    // Bytes queued, bodies included.
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size() + body_bytes_; }
    [[nodiscard]] std::size_t commands() const noexcept { return commands_; }
    [[nodiscard]] std::size_t publishes() const noexcept { return publishes_; }
    // Whether `more` bytes keep the outbox within `limit`.
    [[nodiscard]] bool fits(std::size_t more, std::size_t limit) const noexcept {
        return size() + more <= limit;
    }

    // The encoding, appended in place by the protocol's encoder.
    [[nodiscard]] std::string& text() noexcept { return bytes_; }
    void append(std::string_view encoded) { bytes_.append(encoded); }
    // A payload: copied when small, else shared by reference at this position.
    void append_body(const shared_buffer& body);
    // Closes one command (a publish, when counted as one) made of the appends since the last.
    void end_command(bool publish = false) noexcept {
        ++commands_;
        publishes_ += publish ? 1 : 0;
    }

    // The gather list of a write; valid until the outbox changes.
    void buffers(std::vector<boost::asio::const_buffer>& out) const;
    void clear() noexcept;
    // clear(), and give back a string that grew past retained_capacity.
    void clear_and_trim();

private:
    std::string bytes_;
    std::vector<std::pair<std::size_t, shared_buffer>> bodies_;  // offset in bytes_, body
    std::size_t body_bytes_ = 0;
    std::size_t commands_ = 0;
    std::size_t publishes_ = 0;
};

}  // namespace switchboard::routing::link
