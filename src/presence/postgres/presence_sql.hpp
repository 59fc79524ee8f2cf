// The PostgreSQL presence store's layout: its tables, functions and statements in one schema.
// Pure text, no connection: the store sends it, tests read it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace switchboard::presence::postgres {

// Layout, in the backplane's schema S (--postgres-schema); every row carries `scope` (the key
// prefix), so deployments sharing a schema stay apart. Identifiers are bytea: any bytes, as on
// Redis, and keyset cursors compare them bytewise.
//   S.presence_instances   (scope, instance) -> heartbeat (the database's clock)
//   S.presence_connections (scope, hub, connection_id) -> user_id, instance, connected_at
//   S.presence_groups      (scope, hub, group_name, connection_id) -> user_id, instance, ...
//   S.presence_users       (scope, hub, user_id): users reported online (the once-only guard)
//   S.presence_state       (scope, key) -> value, expires_at (NULL: no TTL)
// Entries reference their instance (ON DELETE CASCADE); an entry is live while its instance's
// heartbeat is younger than the expiry, and queries skip the others. The presence tables are
// UNLOGGED (no WAL: a connect costs no disk flush; a server crash empties them, which the
// stores notice and repair by writing their entries again); the state table is logged.
// Functions (CREATE OR REPLACE at every session start) make each update atomic; the ones that
// decide a user's first/last connection take pg_advisory_xact_lock per (scope, hub, user).
struct presence_sql {
    explicit presence_sql(std::string_view schema);

    // Run in one transaction (one Sync) at the start of every session, under the advisory
    // lock the backplane's DDL takes too: instances starting together never race on catalogs.
    std::vector<std::string> setup;

    // Parameters: b = bytea (binary), n = number (text). Results in binary format.
    // (scope b, instance b, expiry ms n) -> integer 1: this instance was missing or expired.
    std::string heartbeat;
    // (scope b, expiry ms n, batch n) -> rows (hub, user) gone offline; a last row of NULLs
    // when the dead instance has more entries.
    std::string reap;
    // A batch (arrays of one element per entry, identifiers hex-encoded: text_array()):
    // (scope b, instance b, expiry ms n, hubs, connections, users, connected ms) -> rows
    // (index from 1, 1: the user came online / 2: not written, this instance is not live).
    std::string add;
    // A batch: (scope b, expiry ms n, hubs, connections, users) -> rows (index from 1) of the
    // entries whose user went offline.
    std::string remove;
    // (scope b, instance b, expiry ms n, hub b, connection b, user b, group b, connected ms n)
    // -> integer 2: not written (this instance is not live).
    std::string join;
    // (scope b, hub b, group b, connection b)
    std::string leave;
    // (scope b, hub b, expiry ms n, cursor b, limit n) -> rows (user, live bool): the
    // page's candidates, live or not, so that a page's work is bounded by `limit`.
    std::string users;
    // (scope b, hub b, expiry ms n, user b, cursor b, limit n) -> rows (connection, instance,
    // connected ms, user, live bool)
    std::string user_connections;
    // (scope b, hub b, expiry ms n, group b, cursor b, limit n) -> as user_connections
    std::string group_members;
    // (scope b, hub b, expiry ms n, user b) -> bool
    std::string online;

    // (scope b, key b) -> value, or no row
    std::string state_get;
    // (scope b, key b, value b, ttl ms n (0: none))
    std::string state_set;
    // (scope b, key b) -> bigint: live rows deleted
    std::string state_erase;
    // (scope b, key b, value b, ttl ms n) -> a row when set (the key was absent or expired)
    std::string state_insert_if_absent;
    // (scope b, key b, value b, ttl ms n, expected b) -> a row when set
    std::string state_replace_if;
    // () deletes a bounded batch of expired state rows
    std::string state_cleanup;
};

// A text[] literal of the values hex-encoded: {"6869",""}.
std::string hex_array(const std::vector<std::string_view>& values);
// A bigint[] literal: {1,2}.
std::string number_array(const std::vector<long long>& values);

}  // namespace switchboard::presence::postgres
