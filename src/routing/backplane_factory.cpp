#include "routing/backplane_factory.hpp"

#include <stdexcept>
#include <utility>

namespace switchboard::routing {

void backplane_factory::add(backplane_kind kind) {
    kinds_.push_back(std::move(kind));
}

const backplane_kind* backplane_factory::find(std::string_view spec) const {
    for (const auto& kind : kinds_) {
        if (kind.accepts(spec)) {
            return &kind;
        }
    }
    return nullptr;
}

made_backplane backplane_factory::make(std::string_view spec,
                                       const backplane_settings& settings) const {
    const auto* kind = find(spec);
    if (kind == nullptr) {
        throw std::runtime_error(
            "--backplane: '" + redact(spec) +
            "' is no form of a backplane built into this server; accepted: " + describe());
    }
    try {
        return kind->make(spec, settings);
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error("--backplane: " + std::string(e.what()) + " (expected " +
                                 describe() + ")");
    }
}

std::string backplane_factory::redact(std::string_view spec) const {
    if (const auto* kind = find(spec)) {
        return kind->redact ? kind->redact(spec) : std::string(spec);
    }
    const auto scheme = spec.find("://");
    return scheme == std::string_view::npos ? std::string("...")
                                            : std::string(spec.substr(0, scheme)) + "://...";
}

std::string backplane_factory::name_of(std::string_view spec) const {
    const auto* kind = find(spec);
    return kind == nullptr ? std::string() : kind->name;
}

std::string backplane_factory::describe() const {
    std::string out;
    for (const auto& kind : kinds_) {
        if (!out.empty()) {
            out += "; ";
        }
        out += kind.forms;
        if (kind.forms != kind.name) {
            out += " (" + kind.name + ")";
        }
    }
    return out;
}

}  // namespace switchboard::routing
