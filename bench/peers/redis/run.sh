#!/usr/bin/env bash
# Runs a throwaway redis-server in the foreground in a temp dir (no persistence) for the peers'
# scale-out; prints "listening on redis://127.0.0.1:PORT" once it answers PING.
#   bench/peers/redis/run.sh [--port N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$here/../lib.sh"
port=0
if [[ "${1:-}" == "--port" ]]; then port=$2; fi
host=127.0.0.1

if ! command -v redis-server >/dev/null; then
  echo "redis: redis-server is missing: run bench/peers/install.sh" >&2
  exit 1
fi
dir=$(mktemp -d -t switchboard-peer-redis.XXXXXX)
pid=""
cleanup() {
  # timeout(1) signals the whole process group as well: a second SIGTERM must not cut this short.
  trap '' TERM INT
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

start() {  # port
  redis-server --port "$1" --bind "$host" --save '' --appendonly no --dir "$dir" \
    --daemonize no --logfile "$dir/redis.log" &
  pid=$!
}
answers() {  # port
  [[ "$(redis-cli -h "$host" -p "$1" ping 2>/dev/null)" == PONG ]]
}
banner() {  # port
  echo "redis $(redis-server --version | grep -oE 'v=[0-9.]+')"
  echo "listening on redis://$host:$1"
}
serve_when_ready redis "$port" "$host" "$dir/redis.log" start answers banner
