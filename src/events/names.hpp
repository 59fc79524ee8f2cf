// What a channel name and an event type may be, and the `--events-channel` / `--events-retain`
// patterns (shell-style, `{user}` for the caller's user id) that select channels.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::events {

// 256 bytes hold any realistic `scope:id:EventName` and keep a 64-channel request (and each
// bus channel name) small.
inline constexpr std::size_t max_channel_size = 256;
inline constexpr std::size_t max_type_size = 128;

// 1 to 256 bytes of printable ASCII without spaces.
bool valid_channel(std::string_view channel);
// 1 to 128 bytes of letters, digits and `_.-:`.
bool valid_type(std::string_view type);

// Shell-style patterns; "{user}" stands for the caller's user id and never matches for a
// caller without one (an anonymous "user::*" must not open "user::x" to everybody).
class channel_patterns {
public:
    channel_patterns() = default;
    explicit channel_patterns(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}

    [[nodiscard]] bool empty() const noexcept { return patterns_.empty(); }
    // True when some pattern matches `channel` for `user` (empty: anonymous).
    [[nodiscard]] bool matches(std::string_view channel, std::string_view user = {}) const;

private:
    std::vector<std::string> patterns_;
};

}  // namespace switchboard::events
