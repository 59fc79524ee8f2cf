// What the integration fixtures' server processes share: waiting, against a deadline, until a
// child process answers, or noticing that it exited instead.
#pragma once

#include <chrono>
#include <thread>

#include <sys/types.h>
#include <sys/wait.h>

namespace switchboard::testing {

// Calls `answers()` until it returns true (ready), the child `pid` exits (pid set to -1; bad
// arguments, a port taken) or `limit` passes. Each attempt is a connect that a server not yet
// listening refuses at once, so the loop only yields between attempts: no fixed sleep decides
// how long a test waits.
template <class Answers>
bool wait_until_answers(pid_t& pid, std::chrono::seconds limit, Answers answers) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            return false;
        }
        if (answers()) {
            return true;
        }
        std::this_thread::yield();
    }
    return false;
}

}  // namespace switchboard::testing
