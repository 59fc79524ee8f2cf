// The event history on Redis Streams against a real redis-server: ids from XADD, exact reads,
// the bounds that make a read a reset, an unreachable Redis, and the store that publishes.
#include "routing/redis/redis_history_store.hpp"
#include "redis_server.hpp"
#include "redis_test_support.hpp"
#include "routing/redis/redis_client.hpp"

#include <optional>
#include <string>
#include <vector>

namespace switchboard::routing::redis {
namespace {

using events::event_id;
using events::history_range;
using testing::redis_server;

class RedisHistoryStoreTest : public testing::redis_test {
protected:
    void SetUp() override {
        if (!redis_server::available()) {
            GTEST_SKIP() << "redis-server not installed (scripts/install-deps --test)";
        }
        ASSERT_TRUE(server_.start());
        client_options client;
        client.connection.host = "127.0.0.1";
        client.connection.port = server_.port();
        client.resume_delay = std::chrono::milliseconds(0);
        events::history_store_options options;
        options.key_prefix = "app:";
        options.max_count = 5;
        options.publish = publish_;
        store_.emplace(context_, std::move(client), std::move(options));
        store_->start();
        ASSERT_TRUE(run_until([&] { return store_->available(); }));
    }

    std::optional<event_id> append(const std::string& channel, const std::string& data) {
        bool answered = false;
        std::optional<event_id> id;
        store_->append(channel, "T", data, {"bus:" + channel, {"<", ">"}}, context_.get_executor(),
                       [&](std::optional<event_id> got) {
                           answered = true;
                           id = got;
                       });
        EXPECT_TRUE(run_until([&] { return answered; }));
        return id;
    }

    history_range read(const std::string& channel, event_id after, std::size_t limit = 5) {
        std::optional<history_range> range;
        store_->read_after(channel, after, limit, context_.get_executor(),
                           [&](history_range got) { range = std::move(got); });
        EXPECT_TRUE(run_until([&] { return range.has_value(); }));
        return range.value_or(history_range{});
    }

    redis_server server_;
    bool publish_ = false;  // set before SetUp
    std::optional<redis_history_store> store_;
};

// The store on the bus's own server: each append is one script that also publishes.
class RedisPublishingHistoryStoreTest : public RedisHistoryStoreTest {
protected:
    void SetUp() override {
        publish_ = true;
        RedisHistoryStoreTest::SetUp();
        if (IsSkipped()) {
            return;
        }
        client_options options;
        options.connection.host = "127.0.0.1";
        options.connection.port = server_.port();
        bus_.emplace(context_, std::move(options));
        bus_->set_message_handler(collect(received_));
        bus_->subscribe("bus:game:1");
        bus_->start();
        ASSERT_TRUE(run_until([&] { return bus_->connected(); }));
    }

    std::optional<redis_client> bus_;
    std::vector<testing::received_message> received_;
};

TEST_F(RedisHistoryStoreTest, AppendsGetIncreasingIdsAndReadsAreExact) {
    const auto id1 = append("game:1", "1");
    const auto id2 = append("game:1", "2");
    const auto id3 = append("game:1", R"({"x":[1,2]})");
    ASSERT_TRUE(id1 && id2 && id3);
    EXPECT_LT(*id1, *id2);
    EXPECT_LT(*id2, *id3);
    EXPECT_EQ(server_.string_command({"TYPE", "app:switchboard:events-history:game:1"}), "stream");
    // The key expires with the age bound.
    EXPECT_GT(server_.integer_command({}, {"PTTL", "app:switchboard:events-history:game:1"}), 0);

    const auto range = read("game:1", *id1);
    ASSERT_EQ(range.result, history_range::outcome::complete);
    ASSERT_EQ(range.events.size(), 2U);
    EXPECT_EQ(range.events[0].id, *id2);
    EXPECT_EQ(range.events[0].type, "T");
    EXPECT_EQ(range.events[0].data_json, "2");
    EXPECT_EQ(range.events[1].data_json, R"({"x":[1,2]})");
    // Nothing after the newest: exact and empty.
    const auto none = read("game:1", *id3);
    EXPECT_EQ(none.result, history_range::outcome::complete);
    EXPECT_TRUE(none.events.empty());
}

TEST_F(RedisHistoryStoreTest, MoreThanTheLimitOrTrimmedEntriesAreNotExact) {
    const auto first = append("c", "0");
    for (int i = 1; i <= 6; ++i) {
        append("c", std::to_string(i));
    }
    ASSERT_TRUE(first);
    EXPECT_EQ(read("c", *first, 3).result, history_range::outcome::too_many);
    // Trimmed exactly (no "~"): entries after `first` are gone.
    EXPECT_EQ(
        server_.integer_command({}, {"XTRIM", "app:switchboard:events-history:c", "MAXLEN", "2"}),
        5);
    EXPECT_EQ(read("c", *first).result, history_range::outcome::trimmed);
}

TEST_F(RedisHistoryStoreTest, AMissingStreamIsExactOnlyWithinTheAgeBound) {
    const auto now = events::unix_ms_now();
    EXPECT_EQ(read("quiet", event_id{now - 1000, 0}).result, history_range::outcome::complete);
    EXPECT_EQ(read("quiet", event_id{now - 10 * 60 * 1000, 0}).result,
              history_range::outcome::trimmed);
}

TEST_F(RedisPublishingHistoryStoreTest, StoresThenPublishesWithTheAssignedIdInOneStep) {
    EXPECT_TRUE(store_->publishes());
    const auto id1 = append("game:1", "1");
    const auto id2 = append("game:1", R"({"x":2})");
    ASSERT_TRUE(id1 && id2);
    EXPECT_LT(*id1, *id2);
    ASSERT_TRUE(run_until([&] { return received_.size() == 2; }));
    // The payload is the data in the frame the caller gave, the id Redis assigned, the tail.
    EXPECT_EQ(received_[0].channel, "bus:game:1");
    EXPECT_EQ(received_[0].payload, "<1>" + events::format_event_id(*id1) + "\"}");
    EXPECT_EQ(received_[1].payload, R"(<{"x":2}>)" + events::format_event_id(*id2) + "\"}");
    // Stored and bounded as without publishing.
    EXPECT_GT(server_.integer_command({}, {"PTTL", "app:switchboard:events-history:game:1"}), 0);
    const auto range = read("game:1", *id1);
    ASSERT_EQ(range.result, history_range::outcome::complete);
    ASSERT_EQ(range.events.size(), 1U);
    EXPECT_EQ(range.events[0].id, *id2);
    EXPECT_EQ(range.events[0].data_json, R"({"x":2})");
}

TEST_F(RedisPublishingHistoryStoreTest, AFlushedScriptIsLoadedAgainAndPublishesNothingMeanwhile) {
    const auto id1 = append("game:1", "1");
    ASSERT_TRUE(id1);
    ASSERT_TRUE(run_until([&] { return received_.size() == 1; }));
    EXPECT_EQ(server_.string_command({"SCRIPT", "FLUSH"}), "OK");
    // NOSCRIPT: neither stored nor published, so the caller publishes it itself.
    EXPECT_EQ(append("game:1", "2"), std::nullopt);
    const auto id3 = append("game:1", "3");
    ASSERT_TRUE(id3);
    ASSERT_TRUE(run_until([&] { return received_.size() == 2; }));
    EXPECT_EQ(received_[1].payload, "<3>" + events::format_event_id(*id3) + "\"}");
    const auto range = read("game:1", *id1);
    ASSERT_EQ(range.events.size(), 1U);
    EXPECT_EQ(range.events[0].id, *id3);
}

TEST_F(RedisPublishingHistoryStoreTest, AUserWithoutScriptsStoresWithXaddAndPublishesNothing) {
    EXPECT_EQ(server_.string_command({"ACL", "SETUSER", "noscripts", "on", ">secret", "~*", "&*",
                                      "+@all", "-@scripting"}),
              "OK");
    client_options client;
    client.connection.host = "127.0.0.1";
    client.connection.port = server_.port();
    client.connection.user = "noscripts";
    client.connection.password = "secret";
    client.resume_delay = std::chrono::milliseconds(0);
    events::history_store_options options;
    options.key_prefix = "app:";
    options.publish = true;
    store_.emplace(context_, std::move(client), std::move(options));
    store_->start();
    // SCRIPT LOAD is refused on connect: from then on the caller publishes.
    ASSERT_TRUE(run_until([&] { return store_->available() && !store_->publishes(); }));
    const auto id1 = append("game:1", "1");
    const auto id2 = append("game:1", "2");
    ASSERT_TRUE(id1 && id2);
    const auto range = read("game:1", *id1);
    ASSERT_EQ(range.result, history_range::outcome::complete);
    ASSERT_EQ(range.events.size(), 1U);
    EXPECT_EQ(range.events[0].id, *id2);
    EXPECT_TRUE(received_.empty());
}

TEST_F(RedisHistoryStoreTest, AnUnreachableRedisAnswersAtOnce) {
    server_.kill();
    ASSERT_TRUE(run_until([&] { return !store_->available(); }));
    EXPECT_EQ(append("c", "1"), std::nullopt);
    EXPECT_EQ(read("c", event_id{1, 0}).result, history_range::outcome::unavailable);
}

}  // namespace
}  // namespace switchboard::routing::redis
