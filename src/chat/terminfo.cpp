#include "chat/terminfo.hpp"

#include <curses.h>
#include <term.h>

namespace switchboard::chat {

bool terminfo_load(int fd) noexcept {
    int status = 0;
    return setupterm(nullptr, fd, &status) == OK;
}

void terminfo_put(const char* name) noexcept {
    // tigetstr takes char* for historical reasons; it does not write to the name.
    const char* value = tigetstr(const_cast<char*>(name));
    if (value != nullptr && value != reinterpret_cast<const char*>(-1)) {
        putp(value);
    }
}

}  // namespace switchboard::chat
