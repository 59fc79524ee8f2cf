// How a bus with limited names spells the router's channel names: the small mapping each
// backend applies at its edge, and the reusable mappings the next backends need.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace switchboard::routing {

// The router and the backplane interface always speak logical channel names: the ASP.NET
// scale-out names (scaleout/channels.hpp), any bytes, any length. A bus whose names are
// limited maps them here, on the way out (to_bus) and back (from_bus), and nowhere else.
//
// Contract, for every implementation:
// - Deterministic across instances and versions: to_bus depends on the name alone (no seed, no
//   state), and a mapping once released never changes, or instances of two releases on one
//   bus stop hearing each other. A change is a new codec with a new name, never an edit.
// - Injective: distinct logical names never share a bus name.
// - Reversible: from_bus(to_bus(x)) == x. A codec that shortens names (a digest) cannot invert
//   those alone and returns nullopt for them; its bus then resolves the name through its own
//   subscription table, which holds every channel it can hear under its logical name.
// - from_bus returns nullopt for a name that no to_bus produces (another application on the
//   same server): the bus drops such a message, as StackExchange.Redis drops foreign ones.
// Thread safety: const and stateless; any thread.
class channel_codec {
public:
    virtual ~channel_codec() = default;
    [[nodiscard]] virtual std::string to_bus(std::string_view logical) const = 0;
    [[nodiscard]] virtual std::optional<std::string> from_bus(std::string_view bus) const = 0;
};

// Names unchanged: a bus whose channels are arbitrary bytes (Redis). A bus using it may skip
// the calls on its hot path, since they would only copy.
class identity_channel_codec final : public channel_codec {
public:
    [[nodiscard]] std::string to_bus(std::string_view logical) const override;
    [[nodiscard]] std::optional<std::string> from_bus(std::string_view bus) const override;
};

// One token of a NATS subject (or any name limited to a safe alphabet): bytes other than
// [A-Za-z0-9_-] become "%XX" (uppercase hex), so dots, spaces, '*', '>', ':' and UTF-8 never
// reach the bus raw; the empty name, which a subject token cannot be, is "%". from_bus takes
// only the canonical form (no lowercase hex, no escaped safe byte), which makes the mapping a
// bijection between names and valid tokens. `prefix` (e.g. "switchboard.") is prepended as
// given, to root the subjects of one deployment; it must itself be valid on the bus.
class token_channel_codec final : public channel_codec {
public:
    explicit token_channel_codec(std::string prefix = {}) : prefix_(std::move(prefix)) {}
    [[nodiscard]] std::string to_bus(std::string_view logical) const override;
    [[nodiscard]] std::optional<std::string> from_bus(std::string_view bus) const override;

private:
    std::string prefix_;
};

// Names of at most `max_bytes` (PostgreSQL's NOTIFY channel is an identifier of at most 63
// bytes; longer ones are silently truncated, which would merge channels). Short names pass
// unchanged (readable in pg_listening_channels()); a longer one, one starting with '#' or
// holding a NUL becomes '#' + 32 hex digits of its SHA-256 (128 bits: collisions stay out of
// reach for any number of channels a deployment can have). Identity outputs never start with
// '#' and digests always do, so the two ranges cannot collide. No reversible mapping fits
// every name in 63 bytes, so digests are not inverted here (from_bus returns nullopt: see the
// contract above). Quoting the identifier is the bus's job; this keeps the bytes, not the case.
class bounded_channel_codec final : public channel_codec {
public:
    // 63: PostgreSQL's NAMEDATALEN - 1; at least 33, the length of a digest.
    explicit bounded_channel_codec(std::size_t max_bytes = 63);
    [[nodiscard]] std::string to_bus(std::string_view logical) const override;
    [[nodiscard]] std::optional<std::string> from_bus(std::string_view bus) const override;

private:
    std::size_t max_bytes_;
};

}  // namespace switchboard::routing
