#include "chat/terminal.hpp"

#include "chat/terminfo.hpp"

#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace switchboard::chat {

namespace {

// libedit's callback interface has no user pointer: the handler hands lines over through here.
// One terminal at a time owns stdin, so one set of statics is enough.
std::vector<std::string>* typed_lines = nullptr;
bool* typed_end = nullptr;

void on_line(char* line) {
    // readline's contract: the line is ours to free; NULL is end of input.
    const std::unique_ptr<char, decltype(&std::free)> owned(line, &std::free);
    if (line == nullptr) {
        *typed_end = true;
        return;
    }
    if (*line != '\0') {
        add_history(line);
    }
    typed_lines->emplace_back(line);
}

// SIGINT and SIGTERM end the input like EOF does, so the connection closes cleanly and the
// terminal is restored; the handler only writes to a pipe that wait() polls.
int signal_pipe[2] = {-1, -1};
volatile std::sig_atomic_t signalled = 0;

void on_signal(int) {
    signalled = 1;
    const char byte = 1;
    const int saved = errno;
    [[maybe_unused]] const auto written = ::write(signal_pipe[1], &byte, 1);
    errno = saved;
}

void install_signal_handlers() {
    if (signal_pipe[0] < 0 && ::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return;  // Ctrl-C then ends the process the default way: still no harm done.
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

terminal::terminal(bool interactive, std::string prompt)
    : interactive_(interactive), prompt_(std::move(prompt)) {
    install_signal_handlers();
    if (interactive_) {
        // Our handlers, not libedit's: it would re-raise SIGINT and end the process at once.
        rl_catch_signals = 0;
        rl_callback_handler_install(prompt_.c_str(), on_line);
        // libedit reads the terminal's terminfo entry itself; this gives us the same one for
        // erasing the prompt line (print()).
        has_terminfo_ = terminfo_load(STDOUT_FILENO);
    }
}

terminal::~terminal() {
    if (interactive_) {
        rl_callback_handler_remove();
    }
}

terminal::input terminal::wait(int wake_fd, int timeout_ms) {
    input out;
    std::array<pollfd, 3> fds{};
    nfds_t count = 0;
    fds[count++] = {signal_pipe[0], POLLIN, 0};
    if (wake_fd >= 0) {
        fds[count++] = {wake_fd, POLLIN, 0};
    }
    const bool reading = !ended_;
    if (reading) {
        fds[count++] = {STDIN_FILENO, POLLIN, 0};
    }
    if (::poll(fds.data(), count, timeout_ms) < 0) {
        return out;  // EINTR: the caller loops
    }
    if (signalled != 0) {
        ended_ = true;
    }
    if (reading && !ended_ && fds[count - 1].revents != 0) {
        if (interactive_) {
            typed_lines = &out.lines;
            typed_end = &out.end;
            if ((fds[count - 1].revents & POLLIN) != 0) {
                rl_callback_read_char();
                if (!out.lines.empty() || out.end) {
                    // libedit leaves the editor in line-buffered mode after a complete line;
                    // installing the handler again brings back character mode and the prompt.
                    if (!out.end) {
                        rl_callback_handler_install(prompt_.c_str(), on_line);
                    }
                }
            } else {
                out.end = true;  // hung up
            }
            typed_lines = nullptr;
            typed_end = nullptr;
            ended_ = out.end;
        } else {
            read_plain(out);
        }
    }
    out.end = ended_;
    return out;
}

void terminal::read_plain(input& out) {
    std::array<char, 4096> buffer{};
    const auto got = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    if (got <= 0) {
        // std::getline semantics: a last line without a line break still counts.
        if (!pending_.empty()) {
            out.lines.push_back(std::move(pending_));
            pending_.clear();
        }
        ended_ = true;
        return;
    }
    for (auto c : std::string_view(buffer.data(), static_cast<std::size_t>(got))) {
        if (c == '\n') {
            out.lines.push_back(std::move(pending_));
            pending_.clear();
        } else {
            pending_.push_back(c);
            // A line is at most the server's default message size: input without line breaks
            // must not grow memory. What is longer goes as several lines.
            constexpr std::size_t max_line = 1024 * 1024;
            if (pending_.size() >= max_line) {
                out.lines.push_back(std::move(pending_));
                pending_.clear();
            }
        }
    }
}

void terminal::print(std::string_view line) {
    if (!interactive_ || ended_) {
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        return;
    }
    // Erase the prompt and the line being edited (its rows when it wraps), print in their place,
    // then let libedit draw both again below, cursor and all: its line buffer is untouched.
    if (has_terminfo_) {
        int rows = 0;
        int columns = 0;
        rl_get_screen_size(&rows, &columns);
        if (columns > 0) {
            for (int up =
                     static_cast<int>(prompt_.size() + static_cast<std::size_t>(rl_end)) / columns;
                 up > 0; --up) {
                terminfo_put("cuu1");
            }
        }
        terminfo_put("cr");
        terminfo_put("ed");
    }
    std::fflush(stdout);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    rl_forced_update_display();
}

}  // namespace switchboard::chat
