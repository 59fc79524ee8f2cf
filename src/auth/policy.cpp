#include "auth/policy.hpp"

#include <algorithm>

namespace switchboard::auth {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    return text;
}

// 'text', built by appending: GCC 12 misreports "literal" + std::string as overlapping memcpy.
std::string quoted(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    return out.append(1, '\'').append(text).append(1, '\'');
}

bool holds(const switchboard::identity& who, const claim_requirement& requirement) {
    const auto values = who.claim_values(requirement.type);
    if (requirement.values.empty()) {
        return !values.empty();
    }
    return std::any_of(values.begin(), values.end(), [&](std::string_view value) {
        return std::find(requirement.values.begin(), requirement.values.end(), value) !=
               requirement.values.end();
    });
}

}  // namespace

bool policy::allows(const switchboard::identity* who) const {
    if (!restricts()) {
        return true;
    }
    if (who == nullptr) {
        return false;
    }
    if (!roles.empty() && std::none_of(roles.begin(), roles.end(), [&](const std::string& role) {
            return who->in_role(role);
        })) {
        return false;
    }
    return std::all_of(claims.begin(), claims.end(),
                       [&](const claim_requirement& claim) { return holds(*who, claim); });
}

expected<policy> parse_policy(std::string_view text) {
    policy out;
    bool any = false;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (item.empty()) {
            continue;
        }
        any = true;
        if (item == "authenticated") {
            out.authenticated = true;
        } else if (item.starts_with("role:") && item.size() > 5) {
            out.roles.emplace_back(item.substr(5));
        } else if (item.starts_with("claim:") && item.size() > 6) {
            const auto claim = item.substr(6);
            const auto equals = claim.find('=');
            const std::string type(claim.substr(0, equals));
            if (type.empty()) {
                return make_error(quoted(item) + " names no claim type");
            }
            auto existing = std::find_if(out.claims.begin(), out.claims.end(),
                                         [&](const auto& c) { return c.type == type; });
            if (existing == out.claims.end()) {
                existing = out.claims.insert(out.claims.end(), claim_requirement{type, {}});
            }
            if (equals != std::string_view::npos) {
                existing->values.emplace_back(claim.substr(equals + 1));
            }
        } else {
            return make_error("unknown requirement " + quoted(item) +
                              " (expected authenticated, role:NAME, claim:TYPE or "
                              "claim:TYPE=VALUE)");
        }
    }
    if (!any) {
        return make_error("no requirement given");
    }
    out.authenticated = true;  // roles and claims come from a verified identity only
    return out;
}

expected<policy_rule> parse_policy_rule(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) {
        return make_error("expected HUB=REQUIREMENTS or HUB.METHOD=REQUIREMENTS, got " +
                          quoted(text));
    }
    const auto target = trim(text.substr(0, equals));
    const auto dot = target.find('.');
    policy_rule rule;
    rule.hub = std::string(target.substr(0, dot));
    if (dot != std::string_view::npos) {
        rule.method = std::string(target.substr(dot + 1));
        if (rule.method.empty()) {
            return make_error(quoted(target) + " names no method");
        }
    }
    if (rule.hub.empty()) {
        return make_error(quoted(text) + " names no hub");
    }
    auto requirements = parse_policy(text.substr(equals + 1));
    if (!requirements) {
        return make_error(std::string(target) + ": " + requirements.error_message());
    }
    rule.requirements = std::move(*requirements);
    return rule;
}

bool glob_match(std::string_view pattern, std::string_view text) {
    // Greedy with one backtrack point: linear in practice, never exponential.
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos;
    std::size_t resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

}  // namespace switchboard::auth
