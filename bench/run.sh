#!/usr/bin/env bash
# Starts a release server on a free loopback port with the per-client limits off, runs one
# `switchboard bench` scenario against it, stops the server.
#   bench/run.sh SCENARIO [bench flags...]      e.g. bench/run.sh broadcast --connections 1000
# The Redis publish scenario needs no server: run `switchboard bench redis-publish --redis URL`
# against a redis-server (bench/peers/start.sh redis); see bench/README.md.
# Environment: SWITCHBOARD_BIN (default build/switchboard), SERVER_THREADS (server shards,
# default 0 = one per core), BENCH_TIMEOUT (seconds, default 600: the whole run stops by then).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${SWITCHBOARD_BIN:-build/switchboard}
if [[ ! -x $bin ]]; then
  echo "bench/run.sh: $bin not found; build it first (make build JOBS=1)" >&2
  exit 2
fi
if (($# == 0)); then
  echo "usage: bench/run.sh SCENARIO [switchboard bench flags...]" >&2
  exit 2
fi

log=$(mktemp)
# The limits protect a server from abusive clients; a generator is one on purpose: message
# rate, connections per IP and per user, and the negotiate rate all off (0). Presence events
# off: each arrival would be a message to every connection (N²/2 for a connection wave), which
# the peers do not send either.
"$bin" serve --listen 127.0.0.1:0 --static-dir '' --threads "${SERVER_THREADS:-0}" \
  --max-messages-per-second 0 --max-connections-per-ip 0 --max-connections-per-user 0 \
  --negotiate-rate-per-ip 0 --chat-presence-events false --log-level warn >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

url=
for _ in $(seq 100); do
  url=$(grep -oE 'listening on http://[^ ]+' "$log" | head -1 | cut -d' ' -f3 || true)
  [[ -n $url ]] && break
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "bench/run.sh: the server did not start:" >&2
  cat "$log" >&2
  exit 1
fi

timeout --kill-after=10 "${BENCH_TIMEOUT:-600}" \
  "$bin" bench "$@" --url "$url/hubs/chat" --server-pid "$server"
