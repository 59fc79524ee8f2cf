// The few terminfo capabilities the console needs, kept in their own file: <term.h> defines
// hundreds of macros (lines, columns, ...) that must not reach other code.
#pragma once

namespace switchboard::chat {

// Loads the terminal's entry ($TERM) for `fd`; false when there is none.
bool terminfo_load(int fd) noexcept;
// Writes capability `name` (one without parameters: "cr", "ed", "cuu1") if the entry has it.
void terminfo_put(const char* name) noexcept;

}  // namespace switchboard::chat
