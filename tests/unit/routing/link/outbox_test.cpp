#include "routing/link/outbox.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::routing::link {
namespace {

std::string gathered(const outbox& box) {
    std::vector<boost::asio::const_buffer> buffers;
    box.buffers(buffers);
    std::string out;
    for (const auto& buffer : buffers) {
        out.append(static_cast<const char*>(buffer.data()), buffer.size());
    }
    return out;
}

TEST(outbox, small_bodies_are_copied_into_one_buffer) {
    outbox box;
    box.append("head:");
    box.append_body(make_shared_buffer("small"));
    box.append(";");
    box.end_command(true);
    std::vector<boost::asio::const_buffer> buffers;
    box.buffers(buffers);
    EXPECT_EQ(buffers.size(), 1U);
    EXPECT_EQ(gathered(box), "head:small;");
    EXPECT_EQ(box.size(), 11U);
    EXPECT_EQ(box.commands(), 1U);
    EXPECT_EQ(box.publishes(), 1U);
}

TEST(outbox, large_bodies_are_shared_in_place) {
    outbox box;
    const auto large = make_shared_buffer(std::string(outbox::inline_body_limit + 1, 'x'));
    box.append("a");
    box.append_body(large);
    box.append("b");
    box.end_command(true);
    box.append("c");
    box.end_command();
    std::vector<boost::asio::const_buffer> buffers;
    box.buffers(buffers);
    ASSERT_EQ(buffers.size(), 3U);
    EXPECT_EQ(buffers[1].data(), large->data());  // not copied
    EXPECT_EQ(gathered(box), "a" + *large + "bc");
    EXPECT_EQ(box.size(), large->size() + 3);
    EXPECT_EQ(box.commands(), 2U);
    EXPECT_EQ(box.publishes(), 1U);
}

TEST(outbox, bound_and_clear) {
    outbox box;
    EXPECT_TRUE(box.empty());
    EXPECT_TRUE(box.fits(10, 10));
    box.append("12345");
    box.end_command();
    EXPECT_FALSE(box.empty());
    EXPECT_TRUE(box.fits(5, 10));
    EXPECT_FALSE(box.fits(6, 10));
    box.clear();
    EXPECT_TRUE(box.empty());
    EXPECT_EQ(box.size(), 0U);
    EXPECT_EQ(gathered(box), "");
}

TEST(outbox, trimming_gives_back_a_grown_buffer) {
    outbox box;
    box.text().assign(outbox::retained_capacity + 1, 'x');
    box.end_command();
    box.clear_and_trim();
    EXPECT_LE(box.text().capacity(), outbox::retained_capacity);
    box.text().assign(100, 'x');
    const auto capacity = box.text().capacity();
    box.clear_and_trim();
    EXPECT_EQ(box.text().capacity(), capacity);  // small buffers are kept for the next burst
}

}  // namespace
}  // namespace switchboard::routing::link
