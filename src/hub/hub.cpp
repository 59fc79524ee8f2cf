#include "hub/hub.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace switchboard::hub {

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}
}  // namespace

const hub_definition::method_entry* hub_definition::find_method(std::string_view name) const {
    const auto it = methods_.find(lower(name));
    return it == methods_.end() ? nullptr : &it->second;
}

hub_definition& hub_definition::authorize(std::string_view method_name, auth::policy requirements) {
    const auto it = methods_.find(lower(method_name));
    if (it == methods_.end()) {
        throw std::invalid_argument("hub '" + name_ + "' has no method '" +
                                    std::string(method_name) + "'");
    }
    it->second.policy = std::move(requirements);
    return *this;
}

void hub_definition::add_method(std::string name, method_signature signature,
                                method_invoker invoker) {
    auto key = lower(name);
    methods_[std::move(key)] = method_entry{std::move(name), signature, std::move(invoker), {}};
}

}  // namespace switchboard::hub
