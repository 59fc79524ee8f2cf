// The PostgreSQL presence store passes the presence conformance suite against a real, throwaway
// cluster, as several instances; reports each user once when instances race on it; and writes
// its entries again after the database lost them (rows deleted, or a crash that empties the
// unlogged tables).
#include "presence/postgres/postgres_presence_store.hpp"

#include "../../unit/presence/presence_conformance.hpp"
#include "postgres_server.hpp"

#include <atomic>
#include <map>

namespace switchboard::presence::conformance {
namespace {

using testing::postgres_server;

// One cluster for the tests that do not stop it: initdb costs about a second.
postgres_server* shared_server() {
    static auto server = [] {
        auto s = std::make_unique<postgres_server>();
        return s->start() ? std::move(s) : nullptr;
    }();
    return server.get();
}

postgres::connection_options connection_for(const postgres_server& server, std::string schema) {
    postgres::connection_options connection;
    connection.conninfo = server.conninfo();
    connection.schema = std::move(schema);
    // Quick retries, so a restart is noticed within the tests' deadlines.
    connection.initial_backoff = 20ms;
    connection.max_backoff = 300ms;
    connection.connect_timeout = 2s;
    return connection;
}

// stem + number (a literal + a string trips GCC 12 -Wrestrict).
std::string numbered(std::string_view stem, int number) {
    std::string out(stem);
    out += std::to_string(number);
    return out;
}

// Each test in a schema of its own: its instances share it, no other test sees it.
std::string fresh_schema() {
    static std::atomic<int> next{0};
    return numbered("presence_test_", next++);
}

struct postgres_factory {
    static bool available() { return postgres_server::available(); }
    static constexpr bool shared = true;
    void set_up() {
        server = shared_server();
        ASSERT_NE(server, nullptr) << "the PostgreSQL cluster did not start";
        schema = fresh_schema();
    }
    std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
        return std::make_unique<postgres::postgres_store>(control, connection_for(*server, schema),
                                                          std::move(options));
    }
    postgres_server* server = nullptr;
    std::string schema;
};

INSTANTIATE_TYPED_TEST_SUITE_P(postgres, presence_conformance, postgres_factory);

TEST(PostgresPresenceStore, ReportsEachUserOnceWhenInstancesRaceOnIt) {
    if (!postgres_server::available()) {
        GTEST_SKIP() << "PostgreSQL not installed";
    }
    postgres_factory factory;
    factory.set_up();
    instance a(factory, "a-1");
    instance b(factory, "b-1");
    constexpr int users = 40;
    // Both instances connect, then disconnect, every user at once: the first and last
    // connection anywhere are decided under the user's lock, whatever the interleaving.
    for (int i = 0; i < users; ++i) {
        const auto user = numbered("user-", i);
        a.add("chat", numbered("a", i), user);
        b.add("chat", numbered("b", i), user);
    }
    // Each instance's query follows its own writes: both instances' connects are done.
    ASSERT_TRUE(eventually([&] { return a.users("chat").size() == users; }));
    ASSERT_TRUE(eventually([&] { return b.users("chat").size() == users; }));
    for (int i = 0; i < users; ++i) {
        const auto user = numbered("user-", i);
        a.presence().connection_removed("chat", numbered("a", i), user);
        b.presence().connection_removed("chat", numbered("b", i), user);
    }
    const auto total = [&] { return a.change_log("chat").size() + b.change_log("chat").size(); };
    ASSERT_TRUE(eventually([&] { return total() == std::size_t{2} * users; })) << total() << [&] {
        std::string all;
        for (auto* node : {&a, &b}) {
            all += "\n";
            for (const auto& change : node->changes()) {
                all += (change.online ? " +" : " -") + change.user_id + "/" + change.connection_id;
            }
        }
        return all;
    }();
    std::map<std::string, std::string> seen;  // user -> "+-"
    for (auto* node : {&a, &b}) {
        for (const auto& change : node->changes()) {
            seen[change.user_id] += change.online ? "+" : "-";
        }
    }
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(users));
    for (const auto& [user, log] : seen) {
        EXPECT_TRUE(log == "+-" || log == "-+") << user << ": " << log;
    }
    EXPECT_TRUE(a.users("chat").empty());
}

TEST(PostgresPresenceStore, WritesItsEntriesAgainAfterTheDatabaseLostThem) {
    if (!postgres_server::available()) {
        GTEST_SKIP() << "PostgreSQL not installed";
    }
    postgres_factory factory;
    factory.set_up();
    instance a(factory, "a-1", 500ms);
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    ASSERT_TRUE(eventually([&] { return a.online("chat", "alice"); }));
    std::string truncate = "TRUNCATE";
    for (const auto* table : {"instances", "connections", "groups", "users"}) {
        truncate += table[0] == 'i' ? " " : ", ";
        truncate += factory.schema;
        truncate += ".presence_";
        truncate += table;
    }
    const auto lost = factory.server->query(truncate);
    ASSERT_EQ(lost, "");
    // The database had forgotten alice: written again, she came online again.
    ASSERT_TRUE(eventually([&] { return a.change_log("chat").size() == 2; }));
    EXPECT_EQ(a.change_log("chat"), (strings{"+alice", "+alice"}));
    EXPECT_TRUE(a.online("chat", "alice"));
    EXPECT_EQ(a.members_of("chat", "room"), string_set{"c1/alice"});
}

TEST(PostgresPresenceStore, WritesItsEntriesAgainAfterItWasTakenForDead) {
    if (!postgres_server::available()) {
        GTEST_SKIP() << "PostgreSQL not installed";
    }
    postgres_factory factory;
    factory.set_up();
    instance a(factory, "a-1", 500ms);
    instance b(factory, "b-1", 500ms);
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    ASSERT_TRUE(eventually([&] { return b.online("chat", "alice"); }));
    // As after a stall longer than the expiry: b may reap a's entries before a's next
    // heartbeat finds itself expired; either way a writes them again.
    std::string stall = "UPDATE ";
    stall += factory.schema;
    stall +=
        ".presence_instances SET heartbeat = now() - interval '1 hour' WHERE instance = "
        "'a-1'::bytea";
    ASSERT_EQ(factory.server->query(stall), "");
    ASSERT_TRUE(eventually([&] {
        return factory.server->query("SELECT count(*) FROM " + factory.schema +
                                     ".presence_instances WHERE heartbeat < now() - interval "
                                     "'1 minute'") == "0";
    }));
    ASSERT_TRUE(eventually([&] {
        return b.online("chat", "alice") && b.members_of("chat", "room") == string_set{"c1/alice"};
    }));
    EXPECT_EQ(b.connections_of("chat", "alice"), string_set{"c1/alice"});
}

TEST(PostgresPresenceStore, WritesItsEntriesAgainAfterTheServerCrashed) {
    if (!postgres_server::available()) {
        GTEST_SKIP() << "PostgreSQL not installed";
    }
    postgres_server server;
    ASSERT_TRUE(server.start());
    struct own_factory {
        std::unique_ptr<store> make(boost::asio::io_context& control, store_options options) {
            return std::make_unique<postgres::postgres_store>(
                control, connection_for(*server, "signalr"), std::move(options));
        }
        postgres_server* server;
    } factory{&server};
    instance a(factory, "a-1", 500ms);
    a.add("chat", "c1", "alice");
    a.presence().group_joined("chat", "c1", "alice", "room");
    ASSERT_TRUE(eventually([&] { return a.online("chat", "alice"); }));
    ASSERT_TRUE(eventually([&] { return a.presence().connected(); }));

    server.kill();  // crash recovery empties the unlogged presence tables
    ASSERT_TRUE(eventually([&] { return !a.presence().connected(); }));
    a.add("chat", "c2", "bob");  // while it is down: written once it is back
    ASSERT_TRUE(server.start());
    ASSERT_TRUE(eventually([&] { return a.presence().connected(); }, 30s));
    ASSERT_TRUE(eventually([&] { return a.users("chat") == string_set{"alice", "bob"}; }));
    EXPECT_EQ(a.members_of("chat", "room"), string_set{"c1/alice"});
    EXPECT_EQ(server.query("SELECT count(*) FROM signalr.presence_connections"), "2");
}

}  // namespace
}  // namespace switchboard::presence::conformance
