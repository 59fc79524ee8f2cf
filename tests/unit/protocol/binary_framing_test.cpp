#include "protocol/binary_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {
namespace {

using status = binary_frame_reader::status;

std::string bytes(std::initializer_list<unsigned> values) {
    std::string out;
    for (const unsigned v : values) {
        out.push_back(static_cast<char>(v));
    }
    return out;
}

status drain(binary_frame_reader& reader, std::vector<std::string>& records) {
    std::string_view record;
    status s;
    while ((s = reader.next(record)) == status::record) {
        records.emplace_back(record);
    }
    return s;
}

std::string prefix(std::size_t size) {
    std::string out;
    append_varint_prefix(size, out);
    return out;
}

TEST(binary_framing, prefix_encodings) {
    EXPECT_EQ(prefix(0), bytes({0x00}));
    EXPECT_EQ(prefix(0x35), bytes({0x35}));
    EXPECT_EQ(prefix(127), bytes({0x7F}));
    EXPECT_EQ(prefix(128), bytes({0x80, 0x01}));
    EXPECT_EQ(prefix(5248), bytes({0x80, 0x29}));
    EXPECT_EQ(prefix(16383), bytes({0xFF, 0x7F}));
    EXPECT_EQ(prefix(16384), bytes({0x80, 0x80, 0x01}));
    EXPECT_EQ(prefix(max_binary_body_size), bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x07}));
}

TEST(binary_framing, prefix_sizes) {
    EXPECT_EQ(varint_prefix_size(0), 1u);
    EXPECT_EQ(varint_prefix_size(127), 1u);
    EXPECT_EQ(varint_prefix_size(128), 2u);
    EXPECT_EQ(varint_prefix_size(16383), 2u);
    EXPECT_EQ(varint_prefix_size(16384), 3u);
    EXPECT_EQ(varint_prefix_size(2097151), 3u);
    EXPECT_EQ(varint_prefix_size(2097152), 4u);
    EXPECT_EQ(varint_prefix_size(max_binary_body_size), 5u);
}

// HubProtocol.md: a text and 01 02 as two frames (its bytes spell "hello\nworld" in lower case).
TEST(binary_framing, spec_example_frames) {
    std::string out;
    append_varint_frame("hello\nworld", out);
    append_varint_frame(bytes({0x01, 0x02}), out);
    EXPECT_EQ(out, bytes({0x0B, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x0A, 0x77, 0x6F, 0x72, 0x6C, 0x64,
                          0x02, 0x01, 0x02}));

    binary_frame_reader reader(32 * 1024);
    reader.append(out);
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, (std::vector<std::string>{"hello\nworld", bytes({0x01, 0x02})}));
    EXPECT_EQ(reader.buffered(), 0u);
}

TEST(binary_framing, begin_and_end_frame_match_append_frame) {
    for (const std::size_t size : {0u, 1u, 127u, 128u, 300u, 16383u, 16384u, 70000u}) {
        SCOPED_TRACE(size);
        const std::string body(size, 'x');
        std::string expected = "head";
        append_varint_frame(body, expected);

        std::string out = "head";
        const auto start = begin_varint_frame(out);
        EXPECT_EQ(start, 4u);
        out.append(body);
        end_varint_frame(out, start);
        EXPECT_EQ(out, expected);
    }
}

TEST(binary_frame_reader, empty_reader_needs_more) {
    binary_frame_reader reader(32 * 1024);
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
    EXPECT_EQ(reader.buffered(), 0u);
}

TEST(binary_frame_reader, empty_body_is_a_record) {
    binary_frame_reader reader(32 * 1024);
    reader.append(bytes({0x00, 0x02, 0x91, 0x06}));
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::need_more);
    EXPECT_EQ(records, (std::vector<std::string>{"", bytes({0x91, 0x06})}));
}

// MessagePackHubProtocolTestBase: partial data 05 01 is incomplete, not an error.
TEST(binary_frame_reader, partial_body_needs_more) {
    binary_frame_reader reader(32 * 1024);
    reader.append(bytes({0x05, 0x01}));
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
    EXPECT_EQ(reader.buffered(), 2u);
    reader.append(bytes({0x02, 0x03, 0x04}));
    EXPECT_EQ(reader.next(record), status::need_more);
    reader.append(bytes({0x05}));
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record, bytes({0x01, 0x02, 0x03, 0x04, 0x05}));
}

TEST(binary_frame_reader, incomplete_prefixes_need_more) {
    for (const auto& partial : {bytes({0x80}), bytes({0xFF, 0xFF}), bytes({0xFF, 0xFF, 0xFF}),
                                bytes({0xFF, 0xFF, 0xFF, 0xFF})}) {
        binary_frame_reader reader(0x7FFFFFFF);
        reader.append(partial);
        std::string_view record;
        EXPECT_EQ(reader.next(record), status::need_more);
        EXPECT_EQ(reader.buffered(), partial.size());
    }
}

TEST(binary_frame_reader, two_byte_prefix) {
    binary_frame_reader reader(32 * 1024);
    const std::string body(5248, 'b');
    reader.append(bytes({0x80, 0x29}));
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
    reader.append(body);
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record.size(), 5248u);
}

TEST(binary_frame_reader, largest_prefix_is_valid) {
    binary_frame_reader reader(max_binary_body_size);
    reader.append(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x07}));
    std::string_view record;
    EXPECT_EQ(reader.next(record), status::need_more);
}

TEST(binary_frame_reader, prefix_over_2gb_is_invalid) {
    for (const auto& prefix :
         {bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x08}), bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
          bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), bytes({0x80, 0x80, 0x80, 0x80, 0x10})}) {
        binary_frame_reader reader(max_binary_body_size);
        reader.append(prefix);
        std::string_view record;
        EXPECT_EQ(reader.next(record), status::invalid);
        // Final: the stream cannot be resynchronised.
        reader.append(bytes({0x00}));
        EXPECT_EQ(reader.next(record), status::invalid);
    }
    EXPECT_EQ(binary_prefix_too_large_error, "Messages over 2GB in size are not supported.");
}

TEST(binary_frame_reader, limit_applies_to_the_body) {
    binary_frame_reader reader(200);
    std::string exact;
    append_varint_frame(std::string(200, 'a'), exact);
    ASSERT_EQ(exact.size(), 202u);  // two prefix bytes do not count
    reader.append(exact);
    std::string_view record;
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(record.size(), 200u);

    // One byte more is refused as soon as the prefix is known, before the body arrives.
    reader.append(bytes({0xC9, 0x01}));
    EXPECT_EQ(reader.next(record), status::too_large);
    reader.append("more");
    EXPECT_EQ(reader.next(record), status::too_large);
}

TEST(binary_frame_reader, records_before_a_too_large_frame_are_delivered) {
    binary_frame_reader reader(4);
    std::string input;
    append_varint_frame(bytes({0x91, 0x06}), input);
    append_varint_frame("12345", input);
    reader.append(input);
    std::vector<std::string> records;
    EXPECT_EQ(drain(reader, records), status::too_large);
    EXPECT_EQ(records, std::vector<std::string>{bytes({0x91, 0x06})});
}

TEST(binary_frame_reader, split_at_every_position_yields_the_same_records) {
    std::string stream;
    append_varint_frame(bytes({0x91, 0x06}), stream);
    append_varint_frame(std::string(300, 'z'), stream);
    append_varint_frame("", stream);
    append_varint_frame(bytes({0x92, 0x08, 0x2A}), stream);
    const std::vector<std::string> expected = {bytes({0x91, 0x06}), std::string(300, 'z'), "",
                                               bytes({0x92, 0x08, 0x2A})};
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        SCOPED_TRACE(split);
        binary_frame_reader reader(32 * 1024);
        std::vector<std::string> records;
        reader.append(std::string_view(stream).substr(0, split));
        EXPECT_EQ(drain(reader, records), status::need_more);
        reader.append(std::string_view(stream).substr(split));
        EXPECT_EQ(drain(reader, records), status::need_more);
        EXPECT_EQ(records, expected);
        EXPECT_EQ(reader.buffered(), 0u);
    }
}

TEST(binary_frame_reader, byte_by_byte) {
    std::string stream;
    for (int i = 0; i < 50; ++i) {
        append_varint_frame(std::string(static_cast<std::size_t>(i * 7), 'q'), stream);
    }
    binary_frame_reader reader(32 * 1024);
    std::vector<std::string> records;
    for (const char c : stream) {
        reader.append(std::string_view(&c, 1));
        EXPECT_EQ(drain(reader, records), status::need_more);
    }
    ASSERT_EQ(records.size(), 50u);
    for (std::size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].size(), i * 7);
    }
}

TEST(binary_frame_reader, buffered_counts_unreturned_bytes) {
    binary_frame_reader reader(32 * 1024);
    reader.append(bytes({0x02, 0x91, 0x06, 0x03, 0x92}));
    std::string_view record;
    EXPECT_EQ(reader.buffered(), 5u);
    ASSERT_EQ(reader.next(record), status::record);
    EXPECT_EQ(reader.buffered(), 2u);
    EXPECT_EQ(reader.next(record), status::need_more);
    EXPECT_EQ(reader.buffered(), 2u);
}

}  // namespace
}  // namespace switchboard::protocol
