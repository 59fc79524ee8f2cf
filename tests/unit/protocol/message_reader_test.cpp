#include "protocol/message_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::protocol {
namespace {

using status = message_reader::status;
using framing = message_reader::framing;

std::vector<std::string> drain(message_reader& reader) {
    std::vector<std::string> records;
    std::string_view record;
    while (reader.next(record) == status::record) {
        records.emplace_back(record);
    }
    return records;
}

TEST(message_reader, yields_the_handshake_then_json_records) {
    message_reader reader(1024);
    reader.append("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, "{\"protocol\":\"json\",\"version\":1}");
    reader.start(framing::text);
    EXPECT_EQ(drain(reader), std::vector<std::string>{"{\"type\":6}"});
}

TEST(message_reader, binary_frames_in_the_handshake_chunk_are_not_lost) {
    message_reader reader(1024);
    // The JS client's MessagePack session: handshake text, then a framed Ping, one chunk.
    reader.append(std::string("{\"protocol\":\"messagepack\",\"version\":1}\x1e") +
                  std::string("\x02\x91\x06", 3));
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    reader.start(framing::binary);
    EXPECT_EQ(reader.current(), framing::binary);
    EXPECT_EQ(drain(reader), std::vector<std::string>{std::string("\x91\x06", 2)});
    reader.append(std::string("\x03\x92\x07\xc0", 4));
    EXPECT_EQ(drain(reader), std::vector<std::string>{std::string("\x92\x07\xc0", 3)});
}

TEST(message_reader, a_handshake_over_the_limit_is_too_large) {
    message_reader reader(64);
    reader.append(std::string(100, ' '));
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(message_reader, a_varint_prefix_over_2_gb_is_invalid) {
    message_reader reader(1024);
    reader.append("{\"protocol\":\"messagepack\",\"version\":1}\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    reader.start(framing::binary);
    reader.append(std::string("\xff\xff\xff\xff\x0f", 5));
    EXPECT_EQ(reader.next(record), status::invalid);
}

TEST(message_reader, start_only_takes_effect_once) {
    message_reader reader(1024);
    reader.append("{}\x1e");
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    reader.start(framing::text);
    reader.start(framing::binary);
    EXPECT_EQ(reader.current(), framing::text);
}

}  // namespace
}  // namespace switchboard::protocol
