#!/usr/bin/env bash
# Runs a throwaway redis-server in the foreground in a temp dir (no persistence) for the peers'
# scale-out; prints "listening on redis://127.0.0.1:PORT" once it answers PING.
#   bench/peers/redis/run.sh [--port N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
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

for attempt in 1 2 3; do
  chosen=$port
  if [[ "$chosen" == 0 ]]; then chosen=$(node "$here/../free-port.mjs" "$host"); fi
  redis-server --port "$chosen" --bind "$host" --save '' --appendonly no --dir "$dir" \
    --daemonize no --logfile "$dir/redis.log" &
  pid=$!
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if [[ "$(redis-cli -h "$host" -p "$chosen" ping 2>/dev/null)" == PONG ]]; then
      echo "redis $(redis-server --version | grep -oE 'v=[0-9.]+')"
      echo "listening on redis://$host:$chosen"
      wait "$pid"
      exit $?
    fi
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  cat "$dir/redis.log" >&2 || true
  if [[ "$port" != 0 || $attempt == 3 ]]; then
    echo "redis: redis-server did not start" >&2
    exit 1
  fi
done
