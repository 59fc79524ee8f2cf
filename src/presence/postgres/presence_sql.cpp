#include "presence/postgres/presence_sql.hpp"

#include "routing/postgres/identifier.hpp"

#include <array>
#include <string_view>

namespace switchboard::presence::postgres {

using routing::postgres::quote_identifier;

namespace {

// '@' stands for the quoted schema in the texts below (no statement uses the @ operators).
std::string in_schema(std::string_view text, std::string_view schema) {
    std::string out;
    out.reserve(text.size() + 8 * schema.size());
    for (const char c : text) {
        if (c == '@') {
            out += schema;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// The backplane's DDL lock (postgres_backplane.cpp): one key for all of Switchboard's DDL.
constexpr std::string_view schema_lock = "SELECT pg_advisory_xact_lock(6004234345505965873)";

// A live instance's heartbeat is younger than the expiry (p_expiry, in ms) by the database's
// clock: instances' clocks never disagree about liveness.
constexpr auto setup_texts = std::to_array<std::string_view>({
    "CREATE SCHEMA IF NOT EXISTS @",
    "CREATE UNLOGGED TABLE IF NOT EXISTS @.presence_instances (scope bytea NOT NULL, instance "
    "bytea NOT NULL, heartbeat timestamptz NOT NULL, PRIMARY KEY (scope, instance))",
    "CREATE UNLOGGED TABLE IF NOT EXISTS @.presence_connections (scope bytea NOT NULL, hub bytea "
    "NOT NULL, connection_id bytea NOT NULL, user_id bytea NOT NULL, instance bytea NOT NULL, "
    "connected_at bigint NOT NULL, PRIMARY KEY (scope, hub, connection_id), FOREIGN KEY (scope, "
    "instance) REFERENCES @.presence_instances ON DELETE CASCADE)",
    "CREATE INDEX IF NOT EXISTS presence_connections_by_user ON @.presence_connections (scope, "
    "hub, user_id, connection_id)",
    "CREATE INDEX IF NOT EXISTS presence_connections_by_instance ON @.presence_connections "
    "(scope, instance, hub, user_id)",
    "CREATE UNLOGGED TABLE IF NOT EXISTS @.presence_groups (scope bytea NOT NULL, hub bytea NOT "
    "NULL, group_name bytea NOT NULL, connection_id bytea NOT NULL, user_id bytea NOT NULL, "
    "instance bytea NOT NULL, connected_at bigint NOT NULL, PRIMARY KEY (scope, hub, group_name, "
    "connection_id), FOREIGN KEY (scope, instance) REFERENCES @.presence_instances ON DELETE "
    "CASCADE)",
    "CREATE INDEX IF NOT EXISTS presence_groups_by_connection ON @.presence_groups (scope, hub, "
    "connection_id)",
    "CREATE INDEX IF NOT EXISTS presence_groups_by_instance ON @.presence_groups (scope, "
    "instance)",
    "CREATE UNLOGGED TABLE IF NOT EXISTS @.presence_users (scope bytea NOT NULL, hub bytea NOT "
    "NULL, user_id bytea NOT NULL, PRIMARY KEY (scope, hub, user_id))",
    "CREATE TABLE IF NOT EXISTS @.presence_state (scope bytea NOT NULL, key bytea NOT NULL, "
    "value bytea NOT NULL, expires_at timestamptz, PRIMARY KEY (scope, key))",
    "CREATE INDEX IF NOT EXISTS presence_state_expiry ON @.presence_state (expires_at) WHERE "
    "expires_at IS NOT NULL",
    // One key per (scope, hub, user); a collision only serializes two users.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_key(p_scope bytea, p_hub bytea, p_user bytea)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
SELECT hashtextextended(encode(p_scope, 'hex') || ':' || encode(p_hub, 'hex') || ':' ||
  encode(p_user, 'hex'), 0)
$$)sql",
    // Serializes the first/last decisions of one user. A transaction that takes several takes
    // them in ascending key order (batches and reaps sort by it), so none waits in a cycle.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_lock(p_scope bytea, p_hub bytea, p_user bytea)
RETURNS void LANGUAGE sql AS $$
SELECT pg_advisory_xact_lock(@.presence_key(p_scope, p_hub, p_user))
$$)sql",
    // Under the user's lock: 1 when the user has no live connection left and was reported online
    // (the DELETE makes that report happen once).
    R"sql(CREATE OR REPLACE FUNCTION @.presence_settle(p_scope bytea, p_expiry bigint,
  p_hub bytea, p_user bytea)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
  IF EXISTS (SELECT 1 FROM @.presence_connections c JOIN @.presence_instances i
      ON i.scope = c.scope AND i.instance = c.instance
      WHERE c.scope = p_scope AND c.hub = p_hub AND c.user_id = p_user
        AND i.heartbeat >= clock_timestamp() - p_expiry * interval '1 millisecond') THEN
    RETURN 0;
  END IF;
  DELETE FROM @.presence_users WHERE scope = p_scope AND hub = p_hub AND user_id = p_user;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$)sql",
    // A batch of connects (hex-encoded identifiers, one array element each): rows (index, 1)
    // for users that came online, (index, 2) for entries not written (the instance is not
    // live). The instance's row is share-locked first, users second: a reaper holding a dead
    // instance's row takes user locks after it, so the two never wait on each other in a cycle.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_add(p_scope bytea, p_instance bytea,
  p_expiry bigint, p_hubs text[], p_connections text[], p_users text[], p_connected bigint[])
RETURNS TABLE (r_index integer, r_code integer) LANGUAGE plpgsql AS $$
DECLARE
  entry record;
  n integer;
BEGIN
  PERFORM 1 FROM @.presence_instances WHERE scope = p_scope AND instance = p_instance
    AND heartbeat >= clock_timestamp() - p_expiry * interval '1 millisecond' FOR KEY SHARE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT g, 2 FROM generate_subscripts(p_hubs, 1) g;
    RETURN;
  END IF;
  FOR entry IN SELECT x.i::integer AS i, decode(x.h, 'hex') AS hub, decode(x.c, 'hex') AS id,
      decode(x.u, 'hex') AS user_id, x.t FROM unnest(p_hubs, p_connections, p_users,
      p_connected) WITH ORDINALITY AS x(h, c, u, t, i)
      ORDER BY @.presence_key(p_scope, decode(x.h, 'hex'), decode(x.u, 'hex')), x.i LOOP
    IF length(entry.user_id) > 0 THEN
      PERFORM @.presence_lock(p_scope, entry.hub, entry.user_id);
    END IF;
    INSERT INTO @.presence_connections VALUES (p_scope, entry.hub, entry.id, entry.user_id,
      p_instance, entry.t) ON CONFLICT (scope, hub, connection_id) DO UPDATE
      SET user_id = EXCLUDED.user_id, instance = EXCLUDED.instance,
      connected_at = EXCLUDED.connected_at;
    IF length(entry.user_id) > 0 THEN
      INSERT INTO @.presence_users VALUES (p_scope, entry.hub, entry.user_id)
        ON CONFLICT DO NOTHING;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n = 1 THEN
        r_index := entry.i; r_code := 1; RETURN NEXT;
      END IF;
    END IF;
  END LOOP;
END $$)sql",
    // A batch of disconnects: rows (index) of the ones whose user went offline.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_remove(p_scope bytea, p_expiry bigint,
  p_hubs text[], p_connections text[], p_users text[])
RETURNS TABLE (r_index integer) LANGUAGE plpgsql AS $$
DECLARE entry record;
BEGIN
  FOR entry IN SELECT x.i::integer AS i, decode(x.h, 'hex') AS hub, decode(x.c, 'hex') AS id,
      decode(x.u, 'hex') AS user_id FROM unnest(p_hubs, p_connections, p_users)
      WITH ORDINALITY AS x(h, c, u, i)
      ORDER BY @.presence_key(p_scope, decode(x.h, 'hex'), decode(x.u, 'hex')), x.i LOOP
    IF length(entry.user_id) > 0 THEN
      PERFORM @.presence_lock(p_scope, entry.hub, entry.user_id);
    END IF;
    DELETE FROM @.presence_groups WHERE scope = p_scope AND hub = entry.hub
      AND connection_id = entry.id;
    DELETE FROM @.presence_connections WHERE scope = p_scope AND hub = entry.hub
      AND connection_id = entry.id;
    IF length(entry.user_id) > 0
        AND @.presence_settle(p_scope, p_expiry, entry.hub, entry.user_id) = 1 THEN
      r_index := entry.i; RETURN NEXT;
    END IF;
  END LOOP;
END $$)sql",
    R"sql(CREATE OR REPLACE FUNCTION @.presence_join(p_scope bytea, p_instance bytea,
  p_expiry bigint, p_hub bytea, p_connection bytea, p_user bytea, p_group bytea,
  p_connected bigint)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM @.presence_instances WHERE scope = p_scope AND instance = p_instance
    AND heartbeat >= clock_timestamp() - p_expiry * interval '1 millisecond' FOR KEY SHARE;
  IF NOT FOUND THEN RETURN 2; END IF;
  INSERT INTO @.presence_groups VALUES (p_scope, p_hub, p_group, p_connection, p_user,
    p_instance, p_connected) ON CONFLICT (scope, hub, group_name, connection_id) DO UPDATE
    SET user_id = EXCLUDED.user_id, instance = EXCLUDED.instance,
    connected_at = EXCLUDED.connected_at;
  RETURN 0;
END $$)sql",
    // The previous heartbeat is read without a lock: a reaper deleting the row meanwhile makes
    // the upsert insert it, and the answer says "missing" either way.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_heartbeat(p_scope bytea, p_instance bytea,
  p_expiry bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  previous timestamptz;
  now_ timestamptz := clock_timestamp();
BEGIN
  SELECT heartbeat INTO previous FROM @.presence_instances
    WHERE scope = p_scope AND instance = p_instance;
  INSERT INTO @.presence_instances VALUES (p_scope, p_instance, now_)
    ON CONFLICT (scope, instance) DO UPDATE SET heartbeat = EXCLUDED.heartbeat;
  IF previous IS NULL OR previous < now_ - p_expiry * interval '1 millisecond' THEN
    RETURN 1;
  END IF;
  RETURN 0;
END $$)sql",
    // Deletes up to p_batch entries of one dead instance (SKIP LOCKED: reapers share the work),
    // user by user in key order under each user's lock; its instance row goes last, once
    // nothing references it.
    R"sql(CREATE OR REPLACE FUNCTION @.presence_reap(p_scope bytea, p_expiry bigint,
  p_batch integer)
RETURNS TABLE (r_hub bytea, r_user bytea) LANGUAGE plpgsql AS $$
DECLARE
  dead bytea;
  entry record;
  last_hub bytea;
  last_user bytea;
  done integer := 0;
  n integer;
BEGIN
  SELECT instance INTO dead FROM @.presence_instances
    WHERE scope = p_scope AND heartbeat < clock_timestamp() - p_expiry * interval '1 millisecond'
    ORDER BY heartbeat LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF dead IS NULL THEN RETURN; END IF;
  FOR entry IN SELECT c.hub, c.user_id, c.connection_id FROM @.presence_connections c
      WHERE c.scope = p_scope AND c.instance = dead
      ORDER BY @.presence_key(p_scope, c.hub, c.user_id), c.hub, c.user_id
      LIMIT p_batch LOOP
    done := done + 1;
    IF last_user IS NOT NULL AND (entry.hub <> last_hub OR entry.user_id <> last_user) THEN
      IF @.presence_settle(p_scope, p_expiry, last_hub, last_user) = 1 THEN
        r_hub := last_hub; r_user := last_user; RETURN NEXT;
      END IF;
      last_user := NULL;
    END IF;
    IF last_user IS NULL AND length(entry.user_id) > 0 THEN
      PERFORM @.presence_lock(p_scope, entry.hub, entry.user_id);
      last_hub := entry.hub; last_user := entry.user_id;
    END IF;
    DELETE FROM @.presence_groups g WHERE g.scope = p_scope AND g.hub = entry.hub
      AND g.connection_id = entry.connection_id;
    DELETE FROM @.presence_connections c WHERE c.scope = p_scope AND c.hub = entry.hub
      AND c.connection_id = entry.connection_id;
  END LOOP;
  IF last_user IS NOT NULL AND @.presence_settle(p_scope, p_expiry, last_hub, last_user) = 1 THEN
    r_hub := last_hub; r_user := last_user; RETURN NEXT;
  END IF;
  IF done < p_batch THEN
    DELETE FROM @.presence_groups g WHERE (g.scope, g.hub, g.group_name, g.connection_id) IN
      (SELECT x.scope, x.hub, x.group_name, x.connection_id FROM @.presence_groups x
       WHERE x.scope = p_scope AND x.instance = dead LIMIT p_batch - done);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF done + n < p_batch THEN
      DELETE FROM @.presence_instances WHERE scope = p_scope AND instance = dead;
      RETURN;
    END IF;
  END IF;
  r_hub := NULL; r_user := NULL; RETURN NEXT;
END $$)sql",
});

// Live: the entry's instance refreshed its heartbeat within the expiry ($3).
constexpr std::string_view live_instance =
    "EXISTS (SELECT 1 FROM @.presence_instances i WHERE i.scope = e.scope AND i.instance = "
    "e.instance AND i.heartbeat >= clock_timestamp() - $3::bigint * interval '1 millisecond')";

std::string entries_page(std::string_view table, std::string_view key_column,
                         std::string_view schema) {
    std::string text = "SELECT e.connection_id, e.instance, e.connected_at, e.user_id, ";
    text += live_instance;
    text += " FROM (SELECT scope, connection_id, instance, connected_at, user_id FROM @.";
    text += table;
    text += " WHERE scope = $1::bytea AND hub = $2::bytea AND ";
    text += key_column;
    text +=
        " = $4::bytea AND connection_id > $5::bytea ORDER BY connection_id LIMIT $6::integer) e "
        "ORDER BY e.connection_id";
    return in_schema(text, schema);
}

}  // namespace

std::string hex_array(const std::vector<std::string_view>& values) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out = "{";
    for (const auto value : values) {
        if (out.size() > 1) {
            out.push_back(',');
        }
        out.push_back('"');
        for (const char c : value) {
            const auto byte = static_cast<unsigned char>(c);
            out.push_back(digits[byte >> 4U]);
            out.push_back(digits[byte & 0x0FU]);
        }
        out.push_back('"');
    }
    out.push_back('}');
    return out;
}

std::string number_array(const std::vector<long long>& values) {
    std::string out = "{";
    for (const auto value : values) {
        if (out.size() > 1) {
            out.push_back(',');
        }
        out += std::to_string(value);
    }
    out.push_back('}');
    return out;
}

presence_sql::presence_sql(std::string_view schema_name) {
    const auto schema = quote_identifier(schema_name);
    setup.emplace_back(schema_lock);
    for (const auto text : setup_texts) {
        setup.push_back(in_schema(text, schema));
    }
    heartbeat = in_schema("SELECT @.presence_heartbeat($1::bytea, $2::bytea, $3::bigint)", schema);
    reap = in_schema(
        "SELECT r_hub, r_user FROM @.presence_reap($1::bytea, $2::bigint, $3::integer)", schema);
    add = in_schema(
        "SELECT r_index, r_code FROM @.presence_add($1::bytea, $2::bytea, $3::bigint, $4::text[], "
        "$5::text[], $6::text[], $7::bigint[])",
        schema);
    remove = in_schema(
        "SELECT r_index FROM @.presence_remove($1::bytea, $2::bigint, $3::text[], $4::text[], "
        "$5::text[])",
        schema);
    join = in_schema(
        "SELECT @.presence_join($1::bytea, $2::bytea, $3::bigint, $4::bytea, $5::bytea, $6::bytea, "
        "$7::bytea, $8::bigint)",
        schema);
    leave = in_schema(
        "DELETE FROM @.presence_groups WHERE scope = $1::bytea AND hub = $2::bytea AND group_name "
        "= $3::bytea AND connection_id = $4::bytea",
        schema);
    users = in_schema(
        "SELECT u.user_id, EXISTS (SELECT 1 FROM @.presence_connections e WHERE e.scope = u.scope "
        "AND e.hub = u.hub AND e.user_id = u.user_id AND " +
            std::string(live_instance) +
            ") FROM (SELECT scope, hub, user_id FROM @.presence_users WHERE scope = $1::bytea AND "
            "hub = $2::bytea AND user_id > $4::bytea ORDER BY user_id LIMIT $5::integer) u ORDER "
            "BY u.user_id",
        schema);
    user_connections = entries_page("presence_connections", "user_id", schema);
    group_members = entries_page("presence_groups", "group_name", schema);
    online = in_schema(
        "SELECT EXISTS (SELECT 1 FROM @.presence_connections e WHERE e.scope = $1::bytea AND e.hub "
        "= $2::bytea AND e.user_id = $4::bytea AND " +
            std::string(live_instance) + ")",
        schema);

    constexpr std::string_view expires =
        "CASE WHEN $4::bigint > 0 THEN clock_timestamp() + $4::bigint * interval '1 millisecond' "
        "END";
    constexpr std::string_view unexpired = "(expires_at IS NULL OR expires_at > clock_timestamp())";
    state_get = in_schema(
        "SELECT value FROM @.presence_state WHERE scope = $1::bytea AND key = "
        "$2::bytea AND " +
            std::string(unexpired),
        schema);
    state_set = in_schema("INSERT INTO @.presence_state VALUES ($1::bytea, $2::bytea, $3::bytea, " +
                              std::string(expires) +
                              ") ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value, "
                              "expires_at = EXCLUDED.expires_at",
                          schema);
    state_erase = in_schema(
        "WITH d AS (DELETE FROM @.presence_state WHERE scope = $1::bytea AND key = $2::bytea "
        "RETURNING expires_at) SELECT count(*) FROM d WHERE " +
            std::string(unexpired),
        schema);
    state_insert_if_absent = in_schema(
        "INSERT INTO @.presence_state AS x VALUES ($1::bytea, $2::bytea, $3::bytea, " +
            std::string(expires) +
            ") ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value, expires_at = "
            "EXCLUDED.expires_at WHERE x.expires_at IS NOT NULL AND x.expires_at <= "
            "clock_timestamp() RETURNING 1",
        schema);
    state_replace_if = in_schema(
        "UPDATE @.presence_state SET value = $3::bytea, expires_at = " + std::string(expires) +
            " WHERE scope = $1::bytea AND key = $2::bytea AND value = $5::bytea AND " +
            std::string(unexpired) + " RETURNING 1",
        schema);
    // 1,000 rows a heartbeat: bounded work, and far more than keys expire in one interval.
    state_cleanup = in_schema(
        "DELETE FROM @.presence_state WHERE (scope, key) IN (SELECT scope, key FROM "
        "@.presence_state WHERE expires_at <= clock_timestamp() LIMIT 1000)",
        schema);
}

}  // namespace switchboard::presence::postgres
