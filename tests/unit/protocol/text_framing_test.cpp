#include "protocol/text_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {
namespace {

using status = text_frame_reader::status;

// Drains every complete record; returns the status that stopped the loop.
status drain(text_frame_reader& reader, std::vector<std::string>& records) {
    std::string_view record;
    status s;
    while ((s = reader.next(record)) == status::record) {
        records.emplace_back(record);
    }
    return s;
}

// The JS client session of spec §15.5: a handshake followed by hub messages.
const std::string session =
    "{\"protocol\":\"json\",\"version\":1}\x1e"
    "{\"type\":6}\x1e"
    "{\"target\":\"Echo\",\"arguments\":[\"hi\"],\"invocationId\":\"0\",\"type\":1}\x1e"
    "{\"type\":7}\x1e";

const std::vector<std::string> session_records = {
    "{\"protocol\":\"json\",\"version\":1}",
    "{\"type\":6}",
    "{\"target\":\"Echo\",\"arguments\":[\"hi\"],\"invocationId\":\"0\",\"type\":1}",
    "{\"type\":7}",
};

TEST(text_frame_reader, empty_reader_needs_more) {
    text_frame_reader reader(32 * 1024);
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
    EXPECT_EQ(reader.buffered(), 0u);
}

TEST(text_frame_reader, yields_one_record_without_separator) {
    text_frame_reader reader(32 * 1024);
    reader.append("{\"type\":6}\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, "{\"type\":6}");
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_EQ(reader.next(record), status::need_more);
}

TEST(text_frame_reader, yields_several_records_from_one_append) {
    text_frame_reader reader(32 * 1024);
    reader.append(session);
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, session_records);
}

TEST(text_frame_reader, keeps_an_incomplete_record_until_its_separator_arrives) {
    text_frame_reader reader(32 * 1024);
    reader.append("{\"type\":6}\x1e{\"type\"");
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, std::vector<std::string>{"{\"type\":6}"});
    EXPECT_EQ(reader.buffered(), 7u);

    reader.append(":7}\x1e");
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, (std::vector<std::string>{"{\"type\":6}", "{\"type\":7}"}));
    EXPECT_EQ(reader.buffered(), 0u);
}

TEST(text_frame_reader, split_at_every_position_yields_the_same_records) {
    for (std::size_t split = 0; split <= session.size(); ++split) {
        SCOPED_TRACE(split);
        text_frame_reader reader(32 * 1024);
        std::vector<std::string> records;
        reader.append(std::string_view(session).substr(0, split));
        drain(reader, records);
        reader.append(std::string_view(session).substr(split));
        EXPECT_EQ(drain(reader, records), status::need_more);
        EXPECT_EQ(records, session_records);
    }
}

TEST(text_frame_reader, byte_by_byte_yields_the_same_records) {
    text_frame_reader reader(64);
    std::vector<std::string> records;
    for (char c : session) {
        reader.append(std::string_view(&c, 1));
        ASSERT_EQ(drain(reader, records), status::need_more);
    }
    EXPECT_EQ(records, session_records);
}

TEST(text_frame_reader, empty_records_are_returned) {
    text_frame_reader reader(16);
    reader.append("\x1e\x1e");
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, (std::vector<std::string>{"", ""}));
}

TEST(text_frame_reader, record_of_exactly_max_size_is_accepted) {
    text_frame_reader reader(10);
    reader.append("0123456789\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, "0123456789");
}

TEST(text_frame_reader, max_size_without_separator_still_needs_more) {
    text_frame_reader reader(10);
    reader.append("0123456789");
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
    reader.append("\x1e");
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, "0123456789");
}

TEST(text_frame_reader, one_byte_over_max_is_too_large) {
    text_frame_reader reader(10);
    reader.append("01234567890");
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::too_large);
    // The stream stays unusable.
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(text_frame_reader, separator_beyond_the_window_is_too_large) {
    text_frame_reader reader(10);
    reader.append("01234567890\x1e");
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(text_frame_reader, too_large_detected_when_the_record_trickles_in) {
    text_frame_reader reader(10);
    std::string_view record;
    for (int i = 0; i < 10; ++i) {
        reader.append("x");
        ASSERT_EQ(reader.next(record), status::need_more);
    }
    reader.append("x");
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(text_frame_reader, limit_applies_per_record_not_to_the_whole_buffer) {
    text_frame_reader reader(4);
    std::string input;
    for (int i = 0; i < 100; ++i) {
        input += "abcd\x1e";
    }
    reader.append(input);
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records.size(), 100u);
}

TEST(text_frame_reader, oversized_record_after_good_ones_is_reported_after_them) {
    text_frame_reader reader(4);
    reader.append(
        "ab\x1e"
        "abcdef\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, "ab");
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(text_frame_reader, buffered_counts_unreturned_bytes) {
    text_frame_reader reader(32);
    reader.append(
        "ab\x1e"
        "cd");
    EXPECT_EQ(reader.buffered(), 5u);
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(reader.buffered(), 2u);
}

TEST(text_frame_reader, long_stream_of_small_appends_stays_bounded) {
    text_frame_reader reader(32);
    std::string_view record;
    std::size_t count = 0;
    for (int i = 0; i < 100000; ++i) {
        reader.append("{\"type\":6}\x1e{\"ty");
        while (reader.next(record) == status::record) {
            ++count;
        }
        reader.append("pe\":6}\x1e");
        while (reader.next(record) == status::record) {
            ++count;
        }
        ASSERT_EQ(reader.buffered(), 0u);
    }
    EXPECT_EQ(count, 200000u);
}

TEST(text_frame_reader, large_record_arriving_byte_by_byte) {
    constexpr std::size_t size = 256 * 1024;
    text_frame_reader reader(size);
    std::string_view record;
    for (std::size_t i = 0; i < size; ++i) {
        reader.append("a");
        ASSERT_EQ(reader.next(record), status::need_more);
    }
    reader.append("\x1e");
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record.size(), size);
}

}  // namespace
}  // namespace switchboard::protocol
