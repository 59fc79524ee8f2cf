// examples/cpp-client runs against a real server: connects, joins, posts, streams, exits 0.
#include "../support/switchboard_process.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include <sys/wait.h>

namespace switchboard::client {
namespace {

TEST(client_example, worker_joins_posts_and_streams) {
    testing::switchboard_process server(testing::sibling_binary("switchboard"),
                                        {"serve", "--backplane", "memory", "--threads", "1"});
    const auto command = testing::sibling_binary("switchboard-example-worker") + " '" +
                         server.url() + "/hubs/chat?user=worker' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> chunk{};
    while (const auto n = std::fread(chunk.data(), 1, chunk.size(), pipe)) {
        output.append(chunk.data(), n);
    }
    const int status = ::pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("[workers] worker: job 42 done"), std::string::npos) << output;
    EXPECT_NE(output.find("stream done, sum 10"), std::string::npos) << output;
}

}  // namespace
}  // namespace switchboard::client
