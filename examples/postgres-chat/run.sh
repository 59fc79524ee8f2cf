#!/usr/bin/env bash
# The ASP.NET Core chat system's scale-out demo on Switchboard: PostgreSQL and three instances with the
# chat hub on the PostgreSQL backplane (LISTEN/NOTIFY), on ports 5000, 5001 and 5002.
#
#   examples/postgres-chat/run.sh        a throwaway PostgreSQL cluster (temp dir, port 5433) + instances
#   PG_CONNECTION='Host=localhost;Database=signalr_demo;Username=postgres;Password=postgres' \
#     examples/postgres-chat/run.sh      use a running PostgreSQL instead (e.g. docker compose up -d)
#
# Environment (all optional):
#   BASE_PORT        first instance port; the others follow (default 5000)
#   INSTANCES        how many instances (default 3)
#   HOST             address the instances listen on (default 127.0.0.1)
#   PG_PORT          port of the PostgreSQL started here (default 5433, not to collide with a system one)
#   PG_CONNECTION    use this PostgreSQL instead of starting one: an Npgsql connection string as above,
#                    a libpq conninfo ("host=... dbname=...") or a URL (postgres://user:pass@host/db)
#   PG_BIN           PostgreSQL server binaries (default: the newest /usr/lib/postgresql/*/bin)
#   SWITCHBOARD_BIN  server binary (default build/switchboard of this repository)
#   STATIC_DIR       the demo app (default web/dist of this repository: make build builds it)
#   Extra arguments are passed to every `switchboard serve`, e.g. run.sh --log-level debug
#
# Ctrl-C (or SIGTERM) stops everything: the instances drain (clients are told to reconnect), then
# PostgreSQL stops and its temp dir is removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

BASE_PORT=${BASE_PORT:-5000}
INSTANCES=${INSTANCES:-3}
HOST=${HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5433}
PG_CONNECTION=${PG_CONNECTION:-}
SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-$root/build/switchboard}
STATIC_DIR=${STATIC_DIR:-$root/web/dist}
if [[ -z "${PG_BIN:-}" ]]; then
  PG_BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
fi

if [[ ! -x "$SWITCHBOARD_BIN" ]]; then
  echo "run.sh: $SWITCHBOARD_BIN not found; build it first (make build) or set SWITCHBOARD_BIN" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-pgchat.XXXXXX")
pg_pid=""
# shellcheck source=examples/lib.sh
source "$here/../lib.sh"

# PostgreSQL refuses to run as root: then initdb and the server run as the `postgres` user.
# setpriv execs, so the server's pid is the one `$!` gives (a shell function would fork).
as_pg=()
if ((EUID == 0)); then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

pg_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -t 1
}

# shellcheck disable=SC2317  # called by lib.sh's cleanup
# After the instances: a fast shutdown (SIGINT) ends the sessions at once and exits cleanly.
stop_backends() {
  if [[ -n "$pg_pid" ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -INT "$pg_pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pg_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pg_pid" 2>/dev/null || true
  fi
}

# 1. PostgreSQL (a throwaway cluster: trust authentication on 127.0.0.1 only, no durability)
if [[ -z "$PG_CONNECTION" ]]; then
  if [[ -z "$PG_BIN" || ! -x "$PG_BIN/postgres" ]]; then
    echo "run.sh: PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN or PG_CONNECTION)" >&2
    exit 1
  fi
  if pg_ready; then
    echo "run.sh: something already answers on PostgreSQL port $PG_PORT; set PG_PORT or PG_CONNECTION" >&2
    exit 1
  fi
  ((EUID == 0)) && chown postgres: "$work"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$work/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
  "${as_pg[@]}" "$PG_BIN/postgres" -D "$work/data" -p "$PG_PORT" -k "$work" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off > >(sed -u 's/^/[postgres] /') 2>&1 &
  pg_pid=$!
  if ! wait_until 20 pg_ready; then
    echo "run.sh: PostgreSQL did not start on port $PG_PORT" >&2
    exit 1
  fi
  "${as_pg[@]}" "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'CREATE DATABASE signalr_demo'
  # The chat system's connection string, pointed at this cluster's port.
  PG_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Database=signalr_demo;Username=postgres;Password=postgres"
  log "PostgreSQL on 127.0.0.1:$PG_PORT (database signalr_demo)"
fi

# 2. The instances: schema "signalr" and its tables are created by the first one to start.
start_instances "$PG_CONNECTION" --postgres-schema signalr "$@"

log "ready"
for i in "${!ports[@]}"; do
  log "instance-$i: http://$HOST:${ports[$i]}/   (hub /hubs/chat, /readyz)"
done
log "open two instances in two tabs, chat across them; Ctrl-C stops everything"

wait_for_exit
