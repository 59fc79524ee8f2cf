// log_scope names a request or a connection for its lifetime, nests, and restores; request
// numbers are unique.
#include "core/log_context.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchboard {
namespace {

TEST(log_context, scopes_name_and_restore) {
    EXPECT_EQ(current_log_context().request, 0u);
    EXPECT_TRUE(current_log_context().connection.empty());
    const std::string id = "c1";
    {
        const log_scope request(std::uint64_t{7});
        {
            const log_scope connection(id);
            EXPECT_EQ(current_log_context().request, 7u);
            EXPECT_EQ(current_log_context().connection, "c1");
        }
        EXPECT_EQ(current_log_context().request, 7u);
        EXPECT_TRUE(current_log_context().connection.empty());
    }
    EXPECT_EQ(current_log_context().request, 0u);
}

TEST(log_context, request_numbers_are_unique_and_never_zero) {
    const auto first = next_request_id();
    const auto second = next_request_id();
    EXPECT_NE(first, 0u);
    EXPECT_GT(second, first);
}

}  // namespace
}  // namespace switchboard
