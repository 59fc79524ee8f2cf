// Authorization requirements (ASP.NET's [Authorize]) of hubs, hub methods and chat groups,
// checked against the caller's identity; free of JWT types so hubs can include it.
#pragma once

#include "core/expected.hpp"
#include "core/identity.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::auth {

// A claim the caller must hold; with values, one of them (ASP.NET's RequireClaim(type, values)).
struct claim_requirement {
    std::string type;
    std::vector<std::string> values;
};

struct policy {
    // A verified identity is required; roles and claims imply it.
    bool authenticated = false;
    // Any one of them suffices, as in ASP.NET's Roles = "a,b".
    std::vector<std::string> roles;
    // Every one must hold.
    std::vector<claim_requirement> claims;

    // False for the empty policy, which lets anyone in (anonymous development clients too).
    [[nodiscard]] bool restricts() const noexcept {
        return authenticated || !roles.empty() || !claims.empty();
    }
    // `who` is null for a caller without a verified identity.
    [[nodiscard]] bool allows(const switchboard::identity* who) const;
};

// "authenticated", "role:NAME" and "claim:TYPE" or "claim:TYPE=VALUE", comma-separated; several
// roles mean any of them, several claim entries of one type any of their values.
expected<policy> parse_policy(std::string_view text);

// One `--authorize` rule: "HUB=REQUIREMENTS" for a hub, "HUB.METHOD=REQUIREMENTS" for a method.
struct policy_rule {
    std::string hub;
    std::string method;  // empty: the whole hub
    policy requirements;
};
expected<policy_rule> parse_policy_rule(std::string_view text);

// Shell-style matching of a whole name: `*` any run of characters, `?` one character.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace switchboard::auth
