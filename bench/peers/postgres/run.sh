#!/usr/bin/env bash
# Runs a throwaway PostgreSQL cluster in the foreground in a temp dir (trust authentication on
# loopback, no durability) for the backplane benchmarks; prints
# "listening on postgres://postgres@127.0.0.1:PORT/postgres" once it accepts connections.
#   bench/peers/postgres/run.sh [--port N]
# As root, initdb and the server run as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$here/../lib.sh"
port=0
if [[ "${1:-}" == "--port" ]]; then port=$2; fi
host=127.0.0.1
bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
if [[ -z "$bin" || ! -x "$bin/postgres" ]]; then
  echo "postgres: the server binaries are missing: apt-get install postgresql" >&2
  exit 1
fi
# setpriv execs, so the server's pid is the one `$!` gives (a shell function would fork).
as_pg=()
if ((EUID == 0)); then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

dir=$(mktemp -d -t switchboard-peer-postgres.XXXXXX)
((EUID == 0)) && chown postgres: "$dir"
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log"
pid=""
cleanup() {
  trap '' TERM INT
  if [[ -n "$pid" ]]; then
    kill -INT "$pid" 2>/dev/null || true  # fast shutdown
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

# Durability off, as the other buses here keep nothing either: the figures are the bus's.
start() {  # port
  "${as_pg[@]}" "$bin/postgres" -D "$dir/data" -p "$1" -k "$dir" -c listen_addresses="$host" -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off >"$dir/postgres.log" 2>&1 &
  pid=$!
}
answers() {  # port
  "$bin/pg_isready" -q -h "$host" -p "$1" -U postgres -t 1
}
banner() {  # port
  echo "postgres $("$bin/postgres" --version | grep -oE '[0-9]+\.[0-9]+' | head -1)"
  echo "listening on postgres://postgres@$host:$1/postgres"
}
serve_when_ready postgres "$port" "$host" "$dir/postgres.log" start answers banner
