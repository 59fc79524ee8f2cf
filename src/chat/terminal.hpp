// The console: reads typed lines and prints event lines. On a terminal, libedit edits the line
// (history, cursor keys) and event lines appear above it without breaking what is being typed;
// otherwise lines are read as std::getline would and printed plain, one flush per line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::chat {

class terminal {
public:
    // `interactive`: stdin is a terminal (libedit takes it over until destruction).
    terminal(bool interactive, std::string prompt);
    ~terminal();
    terminal(const terminal&) = delete;
    terminal& operator=(const terminal&) = delete;

    struct input {
        std::vector<std::string> lines;  // complete lines, without their line breaks
        bool end = false;                // end of input (EOF, Ctrl-D, SIGINT or SIGTERM)
    };
    // Waits until stdin has something, `wake_fd` is readable (-1: none) or `timeout_ms` passed
    // (-1: no limit); returns the lines completed meanwhile. After the end of input, only
    // waits on `wake_fd`.
    input wait(int wake_fd, int timeout_ms = -1);

    // Prints one line (no line break in it); on a terminal, above the line being edited.
    void print(std::string_view line);

    [[nodiscard]] bool interactive() const noexcept { return interactive_; }

private:
    void read_plain(input& out);

    bool interactive_;
    std::string prompt_;
    bool ended_ = false;
    bool has_terminfo_ = false;
    std::string pending_;  // a plain line not yet terminated
};

}  // namespace switchboard::chat
