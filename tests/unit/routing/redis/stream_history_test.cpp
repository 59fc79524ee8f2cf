// Redis Streams history, pure part: keys, commands, XADD/XRANGE/XINFO replies as Redis sends
// them (RESP2 bytes through hiredis's reader), and the resume verdict.
#include "routing/redis/stream_history.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <gtest/gtest.h>

#include <memory>

namespace switchboard::routing::redis::stream_history {
namespace {

using events::event_id;
using events::history_range;
using events::history_record;
using namespace std::chrono_literals;

struct reply_deleter {
    void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

// One complete RESP2 reply, read the way the client reads it.
reply_ptr read_reply(std::string_view bytes) {
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(),
                                                                redisReaderFree);
    EXPECT_EQ(redisReaderFeed(reader.get(), bytes.data(), bytes.size()), REDIS_OK);
    void* raw = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
    EXPECT_NE(raw, nullptr);
    return reply_ptr(static_cast<redisReply*>(raw));
}

TEST(StreamHistory, KeyCarriesPrefixAndChannel) {
    EXPECT_EQ(stream_key("", "game:42"), "switchboard:events-history:game:42");
    EXPECT_EQ(stream_key("app1:", "game:42"), "app1:switchboard:events-history:game:42");
}

TEST(StreamHistory, Commands) {
    EXPECT_EQ(xadd_command("k", 100, "move", R"({"x":1})"),
              (std::vector<std::string>{"XADD", "k", "MAXLEN", "~", "100", "*", "t", "move", "d",
                                        R"({"x":1})"}));
    EXPECT_EQ(pexpire_command("k", 5min), (std::vector<std::string>{"PEXPIRE", "k", "300000"}));
    // Exclusive start, one more than the bound to tell "too many".
    EXPECT_EQ(xrange_command("k", event_id{1764758400000, 3}, 100),
              (std::vector<std::string>{"XRANGE", "k", "(1764758400000-3", "+", "COUNT", "101"}));
    EXPECT_EQ(xinfo_command("k"), (std::vector<std::string>{"XINFO", "STREAM", "k"}));
}

TEST(StreamHistory, IdReply) {
    EXPECT_EQ(parse_id_reply(*read_reply("$15\r\n1764758400000-7\r\n")),
              (event_id{1764758400000, 7}));
    EXPECT_FALSE(parse_id_reply(*read_reply("$-1\r\n")));
    EXPECT_FALSE(parse_id_reply(*read_reply("-ERR wrong type\r\n")));
    EXPECT_FALSE(parse_id_reply(*read_reply("$3\r\nabc\r\n")));
}

TEST(StreamHistory, RangeReply) {
    const auto reply = read_reply(
        "*2\r\n"
        "*2\r\n$3\r\n5-0\r\n*4\r\n$1\r\nt\r\n$4\r\nmove\r\n$1\r\nd\r\n$7\r\n{\"x\":1}\r\n"
        "*2\r\n$3\r\n5-1\r\n*6\r\n$1\r\nd\r\n$2\r\n[]\r\n$1\r\nz\r\n$1\r\n?\r\n$1\r\nt\r\n$1\r\n"
        "e\r\n");
    const auto records = parse_range_reply(*reply, 1024);
    ASSERT_TRUE(records);
    ASSERT_EQ(records->size(), 2U);
    EXPECT_EQ((*records)[0].id, (event_id{5, 0}));
    EXPECT_EQ((*records)[0].type, "move");
    EXPECT_EQ((*records)[0].data_json, R"({"x":1})");
    EXPECT_EQ((*records)[1].id, (event_id{5, 1}));
    EXPECT_EQ((*records)[1].type, "e");  // unknown field "z" skipped
    EXPECT_EQ((*records)[1].data_json, "[]");
    // Bounded: type + data of all entries is 4 + 7 + 1 + 2 = 14 bytes.
    EXPECT_TRUE(parse_range_reply(*reply, 14));
    EXPECT_FALSE(parse_range_reply(*reply, 13));
    EXPECT_TRUE(parse_range_reply(*read_reply("*0\r\n"), 0)->empty());
}

TEST(StreamHistory, MalformedRangeReplies) {
    EXPECT_FALSE(parse_range_reply(*read_reply("-ERR\r\n"), 1024));
    EXPECT_FALSE(parse_range_reply(*read_reply("*1\r\n$3\r\n5-0\r\n"), 1024));
    // Missing "d".
    EXPECT_FALSE(parse_range_reply(
        *read_reply("*1\r\n*2\r\n$3\r\n5-0\r\n*2\r\n$1\r\nt\r\n$1\r\ne\r\n"), 1024));
    // Not an id.
    EXPECT_FALSE(parse_range_reply(
        *read_reply("*1\r\n*2\r\n$1\r\nx\r\n*4\r\n$1\r\nt\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\n1\r\n"),
        1024));
}

TEST(StreamHistory, InfoReply) {
    // Redis 7.x (fields abridged; order as Redis sends them).
    const auto info = parse_info_reply(
        *read_reply("*10\r\n$6\r\nlength\r\n:2\r\n$17\r\nlast-generated-id\r\n$3\r\n9-1\r\n"
                    "$20\r\nmax-deleted-entry-id\r\n$3\r\n4-0\r\n$13\r\nentries-added\r\n:5\r\n"
                    "$11\r\nfirst-entry\r\n*2\r\n$3\r\n8-0\r\n*4\r\n$1\r\nt\r\n$1\r\ne\r\n$"
                    "1\r\nd\r\n$1\r\n1\r\n"));
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->exists);
    EXPECT_EQ(info->first_entry, (event_id{8, 0}));
    EXPECT_EQ(info->last_generated, (event_id{9, 1}));
    EXPECT_EQ(info->max_deleted, (event_id{4, 0}));
    EXPECT_EQ(info->removed, 3U);  // entries-added 5, length 2

    // Empty stream (first-entry nil), Redis 6 (no max-deleted-entry-id).
    const auto empty =
        parse_info_reply(*read_reply("*4\r\n$6\r\nlength\r\n:0\r\n$11\r\nfirst-entry\r\n$-1\r\n"));
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->exists);
    EXPECT_FALSE(empty->first_entry);
    EXPECT_FALSE(empty->max_deleted);
    EXPECT_FALSE(empty->removed);

    const auto missing = parse_info_reply(*read_reply("-ERR no such key\r\n"));
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->exists);
    EXPECT_FALSE(parse_info_reply(*read_reply("-WRONGTYPE Operation against a key\r\n")));
    EXPECT_FALSE(parse_info_reply(*read_reply(":1\r\n")));
}

// The verdict; "now" is 1000 s, the age bound 100 s, so ids from 900000 on are within it.
constexpr std::uint64_t now = 1'000'000;
constexpr auto age = 100s;

std::vector<history_record> records(std::initializer_list<event_id> ids) {
    std::vector<history_record> out;
    for (const auto id : ids) {
        out.push_back({id, "e", "1"});
    }
    return out;
}

// Redis 7 unless max_deleted is nullopt (then Redis 6: neither field).
stream_info stream(std::optional<event_id> first, std::optional<event_id> max_deleted,
                   std::uint64_t removed = 0) {
    stream_info info;
    info.exists = true;
    info.first_entry = first;
    info.max_deleted = max_deleted;
    if (max_deleted) {
        info.removed = removed;
    }
    return info;
}

TEST(StreamHistory, JudgeExactResume) {
    const auto range = judge_range({950000, 0}, 10, records({{950000, 1}, {960000, 0}}),
                                   stream(event_id{940000, 0}, event_id{930000, 0}), now, age);
    EXPECT_EQ(range.result, history_range::outcome::complete);
    EXPECT_EQ(range.events.size(), 2U);
    // Nothing new: complete and empty.
    EXPECT_EQ(
        judge_range({990000, 0}, 10, {}, stream(event_id{940000, 0}, event_id{}), now, age).result,
        history_range::outcome::complete);
}

TEST(StreamHistory, JudgeTrimmedByCount) {
    // Entries were trimmed and the first one left is newer than the id.
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{970000, 0}, event_id{}, 1), now, age)
                  .result,
              history_range::outcome::trimmed);
    // Trimmed, but only below the id: exact.
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{940000, 0}, event_id{}, 5), now, age)
                  .result,
              history_range::outcome::complete);
    // Nothing ever removed: a first entry newer than the id is just the stream's first event.
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{970000, 0}, event_id{}, 0), now, age)
                  .result,
              history_range::outcome::complete);
    // An entry after the id was XDEL'd (max-deleted-entry-id beyond it).
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{970000, 0}, event_id{960000, 0}), now, age)
                  .result,
              history_range::outcome::trimmed);
    // Redis 6: a first entry newer than the id cannot be told from a trim.
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{970000, 0}, std::nullopt), now, age)
                  .result,
              history_range::outcome::trimmed);
    // Redis 6 with the stream reaching back past the id: exact.
    EXPECT_EQ(judge_range({950000, 0}, 10, records({{970000, 0}}),
                          stream(event_id{940000, 0}, std::nullopt), now, age)
                  .result,
              history_range::outcome::complete);
}

TEST(StreamHistory, JudgeTooMany) {
    EXPECT_EQ(judge_range({950000, 0}, 2, records({{950001, 0}, {950002, 0}, {950003, 0}}),
                          stream(event_id{940000, 0}, event_id{}), now, age)
                  .result,
              history_range::outcome::too_many);
}

TEST(StreamHistory, JudgeAge) {
    // An entry after the id but older than the age bound: the local history drops it too.
    EXPECT_EQ(judge_range({800000, 0}, 10, records({{850000, 0}, {950000, 0}}),
                          stream(event_id{700000, 0}, event_id{}), now, age)
                  .result,
              history_range::outcome::trimmed);
    // The key was created after an old id (it may have expired in between): reset.
    EXPECT_EQ(judge_range({800000, 0}, 10, records({{950000, 0}}),
                          stream(event_id{950000, 0}, event_id{}), now, age)
                  .result,
              history_range::outcome::trimmed);
    // A recent id on a fresh key: nothing can have expired since it.
    EXPECT_EQ(judge_range({940000, 0}, 10, records({{950000, 0}}),
                          stream(event_id{950000, 0}, event_id{}), now, age)
                  .result,
              history_range::outcome::complete);
}

TEST(StreamHistory, JudgeMissingStream) {
    stream_info none;
    // The key outlives its last event by the age bound: a recent id missed nothing.
    EXPECT_EQ(judge_range({950000, 0}, 10, {}, none, now, age).result,
              history_range::outcome::complete);
    EXPECT_EQ(judge_range({850000, 0}, 10, {}, none, now, age).result,
              history_range::outcome::trimmed);
}

}  // namespace
}  // namespace switchboard::routing::redis::stream_history
